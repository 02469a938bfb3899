using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Removes vDPA devices, by name (wildcards allowed) or as piped device objects.</summary>
/// <remarks>ConfirmImpact is High: removing a device pulls it from under whatever uses it (a VM through vhost_vdpa, a netdev).</remarks>
[Cmdlet(VerbsCommon.Remove, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(VdpaDevice))]
public sealed class RemoveVdpaDeviceCommand : VdpaCmdlet
{
    private const string NameSet = "Name";

    // The default set, so that piped devices bind as objects rather than by their Name property.
    private const string InputObjectSet = "InputObject";

    /// <summary>Device names; wildcards are matched against the kernel's list of devices. Bound from piped strings, and from piped objects' Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Devices from Get-VdpaDevice.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public VdpaDevice[] InputObject { get; set; } = [];

    /// <summary>Remove a device even when something uses it (a process has its char device or disk open, its disk is mounted): the call then waits until every holder closes it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Emit each removed device.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var devices = ParameterSetName == NameSet ? ResolveDevices(Name) : InputObject;
        foreach (var device in devices)
        {
            // Users are looked for before the prompt, so -WhatIf and -Confirm name them (and a device in use is refused
            // without asking), and again after it (TryRemoveDevice), right before anything is sent.
            if (CheckUsage(WithSysfs(device), "removed", Force, out var users) is null)
            {
                continue;
            }

            // The target is resolved first, so -WhatIf and -Confirm name the real device and what uses it.
            var target = $"vDPA device '{device.Name}' ({device.Type.ToString().ToLowerInvariant()} on parent '{device.Parent}'){users}";
            if (!ShouldProcess(target, "Remove"))
            {
                continue;
            }

            if (TryRemoveDevice(device, Force) && PassThru)
            {
                WriteObject(device);
            }
        }
    }
}
