using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>The changes several cmdlets make to one device (create, remove, set its MAC): one path each, so New, Set, Remove and Sync behave alike.</summary>
public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// DEV_NEW, then the device read back (DEV_NEW is answered with a bare ACK). A parent whose driver keeps one device is
    /// checked first. Null when this item failed (the error is written).
    /// </summary>
    private protected VdpaDevice? TryCreateDevice(VdpaDeviceSpec spec, VdpaDeviceSpec sent, VdpaParent? parent)
    {
        if (parent is not null && !CheckParentHasRoom(parent, spec.Name))
        {
            return null;
        }

        NetlinkAcknowledgement ack;
        _creating = spec.Name;
        try
        {
            if (!TryRequest($"Creating vDPA device '{spec.Name}' (DEV_NEW: {VdpaProvisioning.DescribeRequest(sent)}).", c => c.CreateDevice(sent), ErrorTarget.Of(spec),
                    VdpaTargetKind.Device, out ack, parent))
            {
                return null;
            }
        }
        finally
        {
            _creating = null;
        }

        if (ack.Warning is not null)
        {
            WriteWarning($"The kernel created '{spec.Name}' with a warning: {ack.Warning}");
        }

        return TryRequest($"Reading back vDPA device '{spec.Name}' (DEV_GET).", c => c.GetDevice(spec.Name), spec.Name, VdpaTargetKind.Device, out var device)
            ? device
            : null;
    }

    /// <summary>What a create from a definition came to: made as asked, made but not as asked (or not bound), or not made at all.</summary>
    private protected enum Created
    {
        AsAsked,
        Differently,
        Not,
    }

    /// <summary>
    /// DEV_NEW as a definition describes the device (a configuration file's, or one read from a device to put it back),
    /// checked by reading it back as New-VdpaDevice does, then its driver.
    /// </summary>
    /// <param name="waitedForParentSec">How long the parents were waited for, for the message when the definition's is absent.</param>
    private protected Created CreateFromDefinition(VdpaDeviceDefinition wanted, IReadOnlyList<VdpaParent> parents, int waitedForParentSec)
    {
        if (SpecFor(wanted, parents, waitedForParentSec) is not { } found)
        {
            return Created.Not;
        }

        var (spec, parent) = found;

        if (TryCreateDevice(spec, spec, parent) is not { } device)
        {
            return Created.Not;
        }

        // What the kernel applied is known only by reading the device back, as New-VdpaDevice does.
        var applied = ReportUnapplied(spec, device, wanted.Name, a => $"its {a.Label}");
        return (wanted.Driver is null || TryBindDriver(wanted.Name, wanted.Driver)) && applied ? Created.AsAsked : Created.Differently;
    }

    /// <summary>The DEV_NEW for a definition and its parent; null after writing this device's error (no parent, a feature of another class).</summary>
    private protected (VdpaDeviceSpec Spec, VdpaParent Parent)? SpecFor(VdpaDeviceDefinition wanted, IReadOnlyList<VdpaParent> parents, int waitedForParentSec)
    {
        var parent = VdpaParentName.Resolve(wanted.Parent, parents);
        if (parent is null)
        {
            WriteError(VdpaErrors.ParentAbsent(wanted.Parent, wanted.Name, waitedForParentSec));
            return null;
        }

        if (VdpaProvisioning.FromDefinition(wanted, parent, out var error) is not { } spec)
        {
            WriteError(VdpaErrors.InvalidInput(VdpaErrors.UnknownFeature, $"vDPA device '{wanted.Name}' was not created: {error}", wanted.Name));
            return null;
        }

        return (spec, parent);
    }

    /// <summary>
    /// The read-back after a create: what the device shows against what was asked (<see cref="VdpaProvisioning.CheckApplied"/>
    /// compares, for New and Sync alike); each difference is a non-terminating VdpaAttributeNotApplied error about
    /// <paramref name="target"/>, what this kernel cannot show a warning. False when something was not applied or could not be read.
    /// </summary>
    /// <param name="named">How a message names an attribute; its parameter (-Mtu) when null.</param>
    private protected bool ReportUnapplied(VdpaDeviceSpec spec, VdpaDevice device, ErrorTarget target, Func<VdpaProvisioningAttribute, string>? named = null)
    {
        if (VdpaProvisioning.CannotCheck(spec, device, Client.Capabilities) is { } cannot)
        {
            WriteWarning(cannot);
            return true;
        }

        if (!VdpaProvisioning.Given(spec).Any())
        {
            return true;
        }

        if (!TryRequest($"Reading back the configuration of '{spec.Name}' (DEV_CONFIG_GET) to check what was applied.", c => c.GetConfig(spec.Name), spec.Name,
                VdpaTargetKind.Device, out var config))
        {
            return false;
        }

        var applied = true;
        foreach (var finding in VdpaProvisioning.CheckApplied(spec, config, Client.Capabilities, named))
        {
            if (finding.Unverifiable)
            {
                WriteWarning(finding.Message);
            }
            else
            {
                WriteError(VdpaErrors.NotApplied(finding.Message, target));
                applied = false;
            }
        }

        return applied;
    }

    /// <summary>
    /// vp_vdpa keeps one device per parent but accepts a second DEV_NEW, which corrupts the parent: a second device is
    /// refused here, before anything is sent. False when this item failed.
    /// </summary>
    private protected bool CheckParentHasRoom(VdpaParent parent, string name)
    {
        if (!VdpaSysfs.Default.AcceptsSecondDeviceWithoutRefusing(parent))
        {
            return true;
        }

        WriteVerbose($"Parent '{parent.Name}' is driven by {VdpaSysfs.VirtioPciParentDriver}, which keeps one device per parent: checking for one (DEV_GET dump).");
        if (!TryRequest($"Listing vDPA devices (DEV_GET dump).", c => c.GetDevices(), name, VdpaTargetKind.Device, out var devices))
        {
            return false;
        }

        if (devices.FirstOrDefault(d => VdpaParentName.Same(d.Parent, parent.Name)) is { } existing)
        {
            WriteError(VdpaErrors.SecondDeviceRefused(parent.Name, existing.Name, VdpaSysfs.VirtioPciParentDriver, name));
            return false;
        }

        return true;
    }

    /// <summary>
    /// DEV_DEL for one device, its users looked for again first (<see cref="CheckUsageBeforeSending"/>): a device that may be
    /// in use is removed only when forced. False when this item failed (the error is written).
    /// </summary>
    /// <remarks>Every removal (Remove-VdpaDevice, Sync-VdpaConfiguration -Prune and -Force) goes through here, after ShouldProcess.</remarks>
    private protected bool TryRemoveDevice(VdpaDevice device, bool force) =>
        CheckUsageBeforeSending(device, "removed", force) is not null &&
        TryRequest($"Removing vDPA device '{device.Name}' (DEV_DEL DEV_NAME={device.Name}).", c => c.DeleteDevice(device.Name), device,
            VdpaTargetKind.Device, out _);

    /// <summary>DEV_ATTR_SET, checked by reading the configuration back; null when this item failed (the error is written).</summary>
    private protected VdpaDeviceConfig? TrySetMacAddress(string name, byte[] mac)
    {
        var text = VdpaText.FormatMacAddress(mac);

        // A kernel without DEV_ATTR_SET (before 6.12) is refused in the core before anything is sent: this item's
        // error, naming the release that added it, and only when the change is really attempted (not under -WhatIf).
        if (!TryRequest($"Setting the MAC address of vDPA device '{name}' (DEV_ATTR_SET DEV_NAME={name} DEV_NET_CFG_MACADDR={text}).",
                c => c.SetMacAddress(name, mac), name, VdpaTargetKind.Device, out var ack))
        {
            return null;
        }

        // On a device that is not net the kernel answers success with only a warning ("... device not supported").
        if (ack.Warning is not null)
        {
            WriteNetlinkError(VdpaErrorMap.WarnedInsteadOfApplied(VdpaCommand.DeviceAttributeSet, name, "The MAC address", ack.Warning), name,
                VdpaTargetKind.Device);
            return null;
        }

        if (!TryRequest($"Reading back the configuration of '{name}' (DEV_CONFIG_GET).", c => c.GetConfig(name), name, VdpaTargetKind.Device, out var config))
        {
            return null;
        }

        var net = config as VdpaNetDeviceConfig;
        if (!string.Equals(net?.MacAddress, text, StringComparison.OrdinalIgnoreCase))
        {
            WriteError(VdpaErrors.NotApplied(
                $"The kernel accepted the new MAC address {text} for vDPA device '{name}', but the device shows {net?.MacAddress ?? "none"}.", name));
            return null;
        }

        return config;
    }
}
