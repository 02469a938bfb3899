using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Changes a vDPA device after creation: its MAC address (the kernel's DEV_ATTR_SET, Linux 6.12 and later) and the driver it is bound to (sysfs).</summary>
[Cmdlet(VerbsCommon.Set, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = MacSet)]
[OutputType(typeof(VdpaNetDeviceConfig), ParameterSetName = [MacSet])]
[OutputType(typeof(VdpaDevice), ParameterSetName = [DriverSet])]
public sealed class SetVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>The device to change; bound from piped devices by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    private const string MacSet = "MacAddress";
    private const string DriverSet = "Driver";

    /// <summary>The new unicast MAC address, 00:11:22:33:44:55 or 00-11-22-33-44-55.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MacSet)]
    [Parameter(ParameterSetName = DriverSet)]
    [Alias("Mac")]
    [ValidateNotNullOrEmpty]
    public string? MacAddress { get; set; }

    /// <summary>Bind the device to vhost_vdpa or virtio_vdpa, or None to unbind it.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DriverSet)]
    [ValidateSet(VdpaSysfs.VhostDriver, VdpaSysfs.VirtioDriver, DriverNames.None, IgnoreCase = true)]
    public string? Driver { get; set; }

    /// <summary>Change the driver even when something uses the device (a process has its char device or disk open, its disk is mounted): unbinding then waits until every holder closes it.</summary>
    [Parameter(ParameterSetName = DriverSet)]
    public SwitchParameter Force { get; set; }

    /// <summary>Emit what was changed as read back, one object per device: the configuration after -MacAddress alone, the device after -Driver (with or without -MacAddress).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (MacAddress is not null && !SetMacAddress())
        {
            return;
        }

        if (Driver is null)
        {
            return;
        }

        var target = DriverNames.ToSysfs(Driver);
        if (RefuseInput(VdpaText.CheckDeviceName(Name), VdpaErrors.InvalidName, Name))
        {
            return;
        }

        // Unbinding takes away what the device became (its char device, netdev or disk), as removal does: its users are
        // looked for before the prompt, so -WhatIf and -Confirm name them, and again after it (TryChangeDriver).
        var current = WithSysfs(new VdpaDevice { Name = Name });
        var users = string.Empty;
        if (current.Driver is { } bound && bound != target && CheckUsage(current, $"unbound from {bound}", Force, out users) is null)
        {
            return;
        }

        if (!ShouldProcess($"vDPA device '{Name}'{users}", target is null ? "Unbind from its driver" : $"Bind to {target}"))
        {
            return;
        }

        if (!TryChangeDriver(Name, Driver, Force))
        {
            return;
        }

        if (PassThru && TryRequest($"Reading back vDPA device '{Name}' (DEV_GET).", c => c.GetDevice(Name), Name, VdpaTargetKind.Device, out var device))
        {
            WriteObject(WithSysfs(device));
        }
    }

    /// <summary>DEV_ATTR_SET, checked by reading the configuration back; false when this item failed.</summary>
    private bool SetMacAddress()
    {
        var mac = VdpaText.ParseMacAddress(MacAddress, out var macError);
        if (RefuseInput(macError, VdpaErrors.InvalidMacAddress, MacAddress) ||
            RefuseInput(VdpaText.CheckDeviceName(Name), VdpaErrors.InvalidName, Name))
        {
            return false;
        }

        var text = VdpaText.FormatMacAddress(mac!);
        if (!ShouldProcess($"vDPA device '{Name}'", $"Set MAC address to {text}"))
        {
            return false;
        }

        if (TrySetMacAddress(Name, mac!) is not { } config)
        {
            return false;
        }

        // With -Driver too, the device read back after the binding is this input's one output.
        if (PassThru && Driver is null)
        {
            WriteObject(config);
        }

        return true;
    }
}
