using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// Looks for what uses a device before it is removed or unbound (the kernel's vhost_vdpa waits, uninterruptibly and
    /// holding the vdpa lock, until every holder closes the char device; a disk goes from under its filesystem).
    /// Null when the device is in use and not forced: the VdpaDeviceInUse error is written and nothing may be sent.
    /// </summary>
    /// <param name="action">What would not be done, as a past participle ("removed").</param>
    /// <param name="whatIf">What -WhatIf and -Confirm add to the target: the users, an up interface, what could not be looked at.</param>
    private protected VdpaDeviceUsageReport? CheckUsage(VdpaDevice device, string action, bool force, out string whatIf)
    {
        WriteVerbose($"Looking for users of vDPA device '{device.Name}' (open files in /proc, mounts, holders, its interface).");
        var usage = VdpaDeviceUsage.Default.Find(device);
        var said = usage.Users.Select(u => u.Description).Concat(usage.Notes).ToList();
        if (usage.UninspectedNote is { } note)
        {
            said.Add(note);
        }

        whatIf = said.Count == 0 ? string.Empty : $" [{string.Join("; ", said)}]";
        if (usage.InUse && !force)
        {
            WriteError(VdpaErrors.InUse(device, action, usage));
            return null;
        }

        return usage;
    }

    /// <summary>Said once the change goes ahead: a forced change waits for the holders; uninspected processes may hold it.</summary>
    private protected void WarnAboutUsers(VdpaDevice device, VdpaDeviceUsageReport usage)
    {
        if (usage.InUse)
        {
            WriteWarning($"vDPA device '{device.Name}' is in use ({string.Join("; ", usage.Users.Select(u => u.Description))}); " +
                "going ahead because of -Force: the call waits until the holders close the device, and Ctrl+C cannot end that wait.");
        }
        else if (usage.UninspectedNote is { } note)
        {
            WriteWarning($"vDPA device '{device.Name}': {note}; if one of them holds the device, the call waits until it closes it.");
        }
    }
}
