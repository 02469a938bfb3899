using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Waits until a vDPA device is there, bound (with what its driver makes) or gone, from the kernel's uevents.</summary>
[Cmdlet(VerbsLifecycle.Wait, "VdpaDevice", DefaultParameterSetName = StateSet)]
[OutputType(typeof(VdpaDevice))]
public sealed class WaitVdpaDeviceCommand : VdpaEventCmdlet
{
    /// <summary>The device's name (no wildcards: a wait is for one device). Bound from piped objects' Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    private const string StateSet = "State";

    // -Driver is a wait for a binding: it has no -State to contradict it, so "bound to vhost_vdpa, and absent" cannot be said.
    private const string DriverSet = "Driver";

    /// <summary>Present (the default), Bound or Absent.</summary>
    [Parameter(ParameterSetName = StateSet)]
    public VdpaDeviceWaitState State { get; set; }

    /// <summary>Wait until the device is bound to this driver (and what it makes is there).</summary>
    [Parameter(Mandatory = true, ParameterSetName = DriverSet)]
    [ValidateSet(VdpaSysfs.VhostDriver, VdpaSysfs.VirtioDriver, IgnoreCase = true)]
    public string? Driver { get; set; }

    protected override void ProcessRecord()
    {
        var state = ParameterSetName == DriverSet ? VdpaDeviceWaitState.Bound : State;
        var driver = Driver?.ToLowerInvariant();
        if (RefuseInput(VdpaText.CheckDeviceName(Name), VdpaErrors.InvalidName, Name))
        {
            return;
        }

        VdpaDevice? device = null;
        string seen = "not there";
        bool Check()
        {
            device = Find(Name);
            seen = device is null ? "not there" : device.Driver is null ? "there, unbound" : $"bound to {device.Driver}";
            var done = state switch
            {
                VdpaDeviceWaitState.Absent => device is null,
                VdpaDeviceWaitState.Present => device is not null,
                _ => device is not null && IsBound(device, driver, ref seen),
            };
            WriteVerbose($"vDPA device '{Name}' is {seen}.");
            return done;
        }

        try
        {
            if (!WaitUntil(Check, VdpaUevents.MayAffectDevices))
            {
                WriteError(VdpaErrors.WaitTimedOut(
                    Unanswered is { } why
                        ? $"vDPA device '{Name}' was not {Describe(state, driver)} within {TimeoutSec} s: {why}."
                        : $"vDPA device '{Name}' was not {Describe(state, driver)} within {TimeoutSec} s: it is {seen}.", Name));
                return;
            }
        }
        catch (NetlinkException e)
        {
            WriteNetlinkError(e, Name, VdpaTargetKind.Device);
            return;
        }

        if (state != VdpaDeviceWaitState.Absent)
        {
            WriteObject(device);
        }
    }

    private static string Describe(VdpaDeviceWaitState state, string? driver) => state switch
    {
        VdpaDeviceWaitState.Absent => "removed",
        VdpaDeviceWaitState.Present => "created",
        _ => driver is null ? "bound" : $"bound to {driver}",
    };

    /// <summary>The device as Get-VdpaDevice shows it, or null when the kernel has none of that name.</summary>
    private VdpaDevice? Find(string name) =>
        AskIfLoaded(client =>
        {
            try
            {
                return WithSysfs(client.GetDevice(name));
            }
            // DEV_GET of a missing device is ENODEV (recorded on 6.12 and 6.1); ENOENT is a family id gone stale after the
            // vdpa module was reloaded, which says nothing about the device and must not end a wait for Absent.
            catch (NetlinkException e) when (e.Errno == LinuxErrno.ENODEV && e is not NetlinkProtocolException)
            {
                // A device no management device created is only in sysfs, as Get-VdpaDevice lists it.
                return VdpaSysfs.Default.Exists(name) ? WithSysfs(new VdpaDevice { Name = name, IsManaged = false }) : null;
            }
        });

    /// <summary>Bound to the driver asked for (any when none was), with what that driver makes present.</summary>
    private static bool IsBound(VdpaDevice device, string? driver, ref string seen)
    {
        if (device.Driver is null || (driver is not null && device.Driver != driver))
        {
            return false;
        }

        var made = device.Driver switch
        {
            VdpaSysfs.VhostDriver => device.VhostDevicePath,
            VdpaSysfs.VirtioDriver when device.Type == VirtioDeviceClass.Net => device.NetworkInterface,
            VdpaSysfs.VirtioDriver when device.Type == VirtioDeviceClass.Block => device.BlockDevice,
            // Another class, or an unmanaged device whose class netlink does not say: the binding is all there is to see.
            _ => device.NetworkInterface ?? device.BlockDevice ?? device.Driver,
        };
        if (made is null)
        {
            seen += device.Driver == VdpaSysfs.VhostDriver ? " without its /dev/vhost-vdpa-N yet" : " without its interface or disk yet";
        }

        return made is not null;
    }
}
