using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>A device's twin on another parent (Test-VdpaMigration, New-VdpaDevice of a piped device): what a destination parent is, read on this host.</summary>
public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// Fills the destination properties of parents of this host (<see cref="VdpaTwin.Describe"/>): one DEV_GET dump for all,
    /// and the configuration of a device on a parent whose driver cannot set a net attribute. Extras of a listing: what
    /// cannot be read stays null, which a twin check then names as not known.
    /// </summary>
    private protected void DescribeAsDestinations(IReadOnlyList<VdpaParent> parents)
    {
        if (parents.Count == 0)
        {
            return;
        }

        WriteVerbose($"Listing vDPA devices (DEV_GET dump) for what {parents.Count} parent(s) already have.");
        IReadOnlyList<VdpaDevice> devices;
        try
        {
            devices = Client.GetDevices();
        }
        catch (NetlinkException e)
        {
            WriteVerbose($"The device dump failed ({e.Message}): the parents' devices stay unknown.");
            return;
        }

        foreach (var parent in parents)
        {
            // The PCI driver tells vp_vdpa's one device per parent (sysfs), and the driver what it sets at creation.
            WithSysfs(parent);
            VdpaTwin.Describe(parent, VdpaSysfs.Default.GetParentKind(parent.Name), Client.Capabilities, devices,
                device => TryReadConfig(device, "what its parent gives every device of its own"));
        }
    }

    /// <summary>A device's configuration (DEV_CONFIG_GET) where this kernel has the command; null, said in -Verbose, where it cannot be read.</summary>
    private protected VdpaDeviceConfig? TryReadConfig(string device, string why)
    {
        if (!Client.Supports(VdpaCommand.DeviceConfigGet))
        {
            WriteVerbose($"This kernel has no DEV_CONFIG_GET: the configuration of vDPA device '{device}' is not read ({why}).");
            return null;
        }

        WriteVerbose($"Reading the configuration of vDPA device '{device}' (DEV_CONFIG_GET): {why}.");
        try
        {
            return Client.GetConfig(device);
        }
        catch (NetlinkException e)
        {
            WriteVerbose($"Reading it failed ({e.Message}).");
            return null;
        }
    }
}
