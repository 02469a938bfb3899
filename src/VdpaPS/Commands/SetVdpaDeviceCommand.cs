using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Changes a vDPA device after creation: its MAC address (the kernel's DEV_ATTR_SET, Linux 6.12 and later).</summary>
[Cmdlet(VerbsCommon.Set, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaNetDeviceConfig))]
public sealed class SetVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>The device to change; bound from piped devices by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    /// <summary>The new unicast MAC address, 00:11:22:33:44:55 or 00-11-22-33-44-55.</summary>
    [Parameter(Mandatory = true)]
    [Alias("Mac")]
    [ValidateNotNullOrEmpty]
    public string MacAddress { get; set; } = string.Empty;

    /// <summary>Emit the device's configuration as read back after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var mac = VdpaText.ParseMacAddress(MacAddress, out var macError);
        if (RefuseInput(macError, VdpaErrors.InvalidMacAddress, MacAddress) ||
            RefuseInput(VdpaText.CheckDeviceName(Name), VdpaErrors.InvalidName, Name))
        {
            return;
        }

        if (!Client.Supports(VdpaCommand.DeviceAttributeSet))
        {
            // Not a per-item problem: no device can be changed on this kernel.
            ThrowTerminatingError(new ErrorRecord(
                new NotSupportedException("This kernel's vdpa family has no DEV_ATTR_SET: changing a device after creation needs Linux 6.12 or later."),
                VdpaErrors.NotSupported, ErrorCategory.NotImplemented, Name));
        }

        var text = VdpaText.FormatMacAddress(mac!);
        if (!ShouldProcess($"vDPA device '{Name}'", $"Set MAC address to {text}"))
        {
            return;
        }

        if (!TryRequest($"Setting the MAC address of vDPA device '{Name}' (DEV_ATTR_SET DEV_NAME={Name} DEV_NET_CFG_MACADDR={text}).",
                c => c.SetMacAddress(Name, mac!), Name, VdpaTargetKind.Device, out var ack))
        {
            return;
        }

        // On a device that is not net the kernel answers success with only a warning ("... device not supported").
        if (ack.Warning is not null)
        {
            WriteError(VdpaErrors.NotApplied(
                $"The MAC address of vDPA device '{Name}' was not changed: the kernel answered success with the warning \"{ack.Warning}\".", Name));
            return;
        }

        if (!TryRequest($"Reading back the configuration of '{Name}' (DEV_CONFIG_GET).", c => c.GetConfig(Name), Name, VdpaTargetKind.Device, out var config))
        {
            return;
        }

        var net = config as VdpaNetDeviceConfig;
        if (!string.Equals(net?.MacAddress, text, StringComparison.OrdinalIgnoreCase))
        {
            WriteError(VdpaErrors.NotApplied(
                $"The kernel accepted the new MAC address {text} for vDPA device '{Name}', but the device shows {net?.MacAddress ?? "none"}.", Name));
            return;
        }

        if (PassThru)
        {
            WriteObject(config);
        }
    }
}
