using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// Looks for what uses a device before it is removed or unbound (the kernel's vhost_vdpa waits, uninterruptibly and
    /// holding the vdpa lock, until every holder closes the char device; a disk goes from under its filesystem). A check
    /// that could not look at everything counts as in use. Null when the device may be in use and the change is not
    /// forced: the error is written and nothing may be sent.
    /// </summary>
    /// <param name="action">What would not be done, as a past participle ("removed").</param>
    /// <param name="whatIf">What -WhatIf and -Confirm add to the target: the users, an up interface, what could not be looked at.</param>
    private protected VdpaDeviceUsageReport? CheckUsage(VdpaDevice device, string action, bool force, out string whatIf)
    {
        var usage = FindUsers(device);
        var said = usage.Users.Select(u => u.Description).Concat(usage.Notes).ToList();
        if (usage.UncertainNote is { } note)
        {
            said.Add(note);
        }

        whatIf = said.Count == 0 ? string.Empty : $" [{string.Join("; ", said)}]";
        return Refuses(device, action, force, usage) ? null : usage;
    }

    /// <summary>
    /// The check made again right before the change is sent, after ShouldProcess: a confirmation prompt can stay open for
    /// minutes, and a VM started meanwhile must not lose its device. The device is read from sysfs again (it may have been
    /// bound since). Null when it may be in use and not forced (the error is written); a forced change is warned about.
    /// </summary>
    /// <remarks>Every removal goes through here (<see cref="TryRemoveDevice"/>), and Set-VdpaDevice's unbind (<see cref="TryChangeDriver"/>).</remarks>
    private protected VdpaDeviceUsageReport? CheckUsageBeforeSending(VdpaDevice device, string action, bool force)
    {
        var usage = FindUsers(WithSysfs(device));
        if (Refuses(device, action, force, usage))
        {
            return null;
        }

        WarnAboutUsers(device, usage);
        return usage;
    }

    private VdpaDeviceUsageReport FindUsers(VdpaDevice device)
    {
        WriteVerbose($"Looking for users of vDPA device '{device.Name}' (open files in /proc, mounts in every mount namespace, holders, " +
            "an exclusive open of its disk, its interface).");
        return VdpaDeviceUsage.Default.Find(device);
    }

    /// <summary>Writes the refusal when the device may be in use and the change is not forced.</summary>
    private bool Refuses(VdpaDevice device, string action, bool force, VdpaDeviceUsageReport usage)
    {
        if (force || !usage.MayBeInUse)
        {
            return false;
        }

        WriteError(usage.InUse ? VdpaErrors.InUse(device, action, usage) : VdpaErrors.UsageUnknown(device, action, usage));
        return true;
    }

    /// <summary>Said once a forced change goes ahead: it waits for the holders, and what could not be looked at may hold it.</summary>
    private void WarnAboutUsers(VdpaDevice device, VdpaDeviceUsageReport usage)
    {
        if (usage.InUse)
        {
            WriteWarning($"vDPA device '{device.Name}' is in use ({string.Join("; ", usage.Users.Select(u => u.Description))}); " +
                "going ahead because of -Force: the call waits until the holders close the device, and Ctrl+C cannot end that wait.");
        }
        else if (usage.UncertainNote is { } note)
        {
            WriteWarning($"vDPA device '{device.Name}' could not be checked for users ({note}); going ahead because of -Force: " +
                "if something holds the device, the call waits until it closes it.");
        }
    }
}
