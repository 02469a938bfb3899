using System.Diagnostics;
using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>SR-IOV physical functions as Get- and Set-VdpaPhysicalFunction (and Sync's PF section) read and change them.</summary>
public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// The vDPA parents and devices, to say which VF is a parent and holds which devices. Asked with a client of its own:
    /// a host whose vdpa module is not loaded (yet) still lists its PFs, with no VF a parent.
    /// </summary>
    private protected (IReadOnlyList<VdpaParent> Parents, IReadOnlyList<VdpaDevice> Devices) ListVdpaIfLoaded()
    {
        VdpaClient client;
        try
        {
            client = VdpaClient.Open(cancellation: StopToken);
        }
        catch (FamilyNotFoundException)
        {
            WriteVerbose("The vdpa generic netlink family is not there (module not loaded): no VF is a vDPA parent.");
            return ([], []);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (NetlinkException e)
        {
            ThrowTerminatingError(VdpaErrors.FromNetlink(e, default, VdpaTargetKind.Parent));
            throw; // not reached
        }

        using (client)
        {
            Listen(client);
            try
            {
                WriteVerbose("Listing vDPA parents and devices (MGMTDEV_GET and DEV_GET dumps) for the VFs.");
                return (client.GetParents(), client.GetDevices());
            }
            catch (NetlinkException e)
            {
                ThrowTerminatingError(VdpaErrors.FromNetlink(e, default, VdpaTargetKind.Parent));
                throw; // not reached
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
        }
    }

    /// <summary>Physical functions with their VFs' vDPA side filled in.</summary>
    private protected IReadOnlyList<VdpaPhysicalFunction> WithVdpaState(IReadOnlyList<VdpaPhysicalFunction> pfs)
    {
        if (pfs.Count > 0)
        {
            var (parents, devices) = ListVdpaIfLoaded();
            VdpaSriov.AddVdpaState(pfs, parents.Select(p => p.Name), devices.Select(d => (d.Name, d.Parent)));
        }

        return pfs;
    }

    /// <summary>One physical function by address, with its VFs' vDPA side; null after writing why there is none.</summary>
    private protected VdpaPhysicalFunction? ReadPhysicalFunction(string typed)
    {
        if (VdpaSriov.NormalizeAddress(typed) is not { } address)
        {
            RefuseInput($"'{typed}' is not a PCI address (such as 0000:01:00.0).", VdpaErrors.InvalidPciAddress, typed);
            return null;
        }

        if (VdpaSriov.Default.GetPhysicalFunction(address) is not { } pf)
        {
            WriteError(VdpaErrors.PhysicalFunctionMissing(address));
            return null;
        }

        return WithVdpaState([pf])[0];
    }

    /// <summary>
    /// Waits (uevents, as Wait-VdpaParent) until every VF of the PF is a vDPA parent. The VFs that are not, when the time is
    /// up; empty when all are.
    /// </summary>
    private protected IReadOnlyList<string> WaitForVfParents(string address, TimeSpan timeout)
    {
        var started = Stopwatch.StartNew();
        IReadOnlyList<string> missing = [];
        bool Check()
        {
            var pf = VdpaSriov.Default.GetPhysicalFunction(address);
            var parents = ListVdpaIfLoaded().Parents.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            missing = [.. (pf?.VirtualFunctions ?? []).Where(v => !parents.Contains("pci/" + v.PciAddress)).Select(v => v.PciAddress)];
            WriteVerbose(missing.Count == 0 ? $"Every VF of {address} is a vDPA parent." : $"Not vDPA parents yet: {string.Join(", ", missing)}.");
            return missing.Count == 0;
        }

        WaitForUevents(Check, VdpaUevents.MayAddParent, () => timeout - started.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero);
        return missing;
    }

    /// <summary>
    /// The one path that changes a PF's VFs (Set-VdpaPhysicalFunction, Sync-VdpaConfiguration): a non-zero count changes
    /// through 0; VFs that go or are rebound take their vDPA devices with them, so that is refused while any has one,
    /// unless <paramref name="force"/>, which removes them first when none is in use (Remove-VdpaDevice's check and
    /// refusal); ShouldProcess; the sysfs steps (<see cref="VdpaSriov.Apply"/>, which puts back what was when a step
    /// fails); then the wait until each VF is a vDPA parent, putting the PF back when they do not become parents in time.
    /// </summary>
    /// <returns>True when the PF is as asked (changed, or already so), false after writing this PF's error, null when declined (-WhatIf, No).</returns>
    private protected bool? TrySetPhysicalFunction(VdpaPhysicalFunction pf, int count, string? vfDriver, bool force, int timeoutSec)
    {
        string? driver = null;
        if (vfDriver is not null && count > 0)
        {
            driver = VdpaSriov.Default.FindDriver(vfDriver);
            if (driver is null)
            {
                WriteError(VdpaErrors.FromSysfs(new VdpaSysfsException(
                    $"The PCI driver '{vfDriver}' is not loaded (no /sys/bus/pci/drivers/{vfDriver}): load its module first, such as 'modprobe vp_vdpa'.",
                    VdpaSysfsFailure.DriverNotLoaded), pf));
                return false;
            }
        }

        // From 0 the kernel refuses a count over the total itself, and that refusal (ERANGE, the file named) is reported;
        // from another count it would come only after the VFs there were taken away.
        if (count > pf.TotalVfs && pf.VfCount != 0)
        {
            WriteError(VdpaErrors.VfCountOverTotal(pf, count));
            return false;
        }

        var countChanges = pf.VfCount != count;
        var affected = countChanges ? pf.VirtualFunctions : [.. pf.VirtualFunctions.Where(v => driver is not null && v.Driver != driver)];
        var bound = driver is null ? string.Empty : $" bound to {driver}";
        if (affected.Length == 0 && !countChanges)
        {
            WriteVerbose($"{pf.PciAddress} has {pf.VfCount} VFs{bound} already: nothing to change.");
            return true;
        }

        var held = affected.Where(v => v.Devices.Length > 0).ToList();
        var removals = new List<VdpaDevice>();
        if (held.Count > 0)
        {
            if (!force)
            {
                WriteError(VdpaErrors.HasDevices(pf, $"set to {count} VFs{bound}", held));
                return false;
            }

            // -Force removes the devices only when nothing uses them: the same check and refusal as Remove-VdpaDevice's.
            foreach (var name in held.SelectMany(v => v.Devices))
            {
                if (!TryRequest($"Reading vDPA device '{name}' (DEV_GET).", c => c.GetDevice(name), name, VdpaTargetKind.Device, out var device) ||
                    CheckUsage(WithSysfs(device), "removed", force: false, out _) is null)
                {
                    return false;
                }

                removals.Add(device);
            }
        }

        // What -Force removes, as a configuration file would describe it: what a failed change creates again.
        var removed = removals.Select(d => VdpaDeviceState.FromDevice(d, TryReadConfig(d.Name, "what creates it again if the change fails"))).ToList();

        var removing = removals.Count == 0 ? string.Empty : $"; removes vDPA devices {string.Join(", ", removals.Select(d => d.Name))}";
        if (!ShouldProcess($"PCI physical function {pf.PciAddress} ({pf.VfCount} of {pf.TotalVfs} VFs{removing})", $"Set {count} VFs{bound}"))
        {
            return null;
        }

        for (var i = 0; i < removals.Count; i++)
        {
            if (!TryRemoveDevice(removals[i], force: false))
            {
                // The PF was not touched: those already removed come back on the VFs they were on.
                if (i > 0)
                {
                    WriteWarning(CreateRemovedAgain(pf.PciAddress, removed[..i], timeoutSec));
                }

                return false;
            }
        }

        VdpaSriovState before;
        try
        {
            before = VdpaSriov.Default.Capture(pf.PciAddress);
            VdpaSriov.Default.Apply(pf.PciAddress, count, driver, WriteVerbose);
        }
        catch (VdpaSysfsException e)
        {
            // Apply put the VFs back as they were; the devices -Force removed from them come back too.
            WriteError(VdpaErrors.FromSysfs(removed.Count == 0 ? e : new VdpaSysfsException($"{e.Message} {CreateRemovedAgain(pf.PciAddress, removed, timeoutSec)}", e.Failure, e), pf));
            return false;
        }

        if (driver is not null && count > 0)
        {
            var missing = WaitForVfParents(pf.PciAddress, TimeSpan.FromSeconds(timeoutSec));
            if (missing.Count > 0)
            {
                var putBack = VdpaSriov.Default.Restore(before);
                if (removed.Count > 0)
                {
                    putBack += " " + CreateRemovedAgain(pf.PciAddress, removed, timeoutSec);
                }

                WriteError(VdpaErrors.VfsNotParents(pf, driver, missing, timeoutSec, putBack));
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// After a PF change that failed and was put back: the devices -Force removed from its VFs, created again as they were
    /// (in the words each VF parent takes back) once their parents are back. What became of them, for the error's message.
    /// </summary>
    private string CreateRemovedAgain(string address, IReadOnlyList<VdpaDeviceState> removed, int timeoutSec)
    {
        var missing = WaitForVfParents(address, TimeSpan.FromSeconds(timeoutSec));
        var parents = ListVdpaIfLoaded().Parents;
        var again = new List<string>();
        var lost = new List<string>();
        foreach (var state in removed)
        {
            var former = VdpaProvisioning.Restorable(state.Definition, VdpaSysfs.Default.GetParentKind(state.Device.Parent));
            WriteVerbose($"Creating vDPA device '{former.Name}' again as it was ({VdpaConfigurationDiff.Summarize(former)}).");
            (CreateFromDefinition(former, parents, timeoutSec) == Created.Not ? lost : again).Add(former.Name);
        }

        var said = again.Count > 0 ? $"The vDPA devices -Force removed were created again: {string.Join(", ", again)}." : string.Empty;
        if (lost.Count > 0)
        {
            said += $" Not created again (see their errors{(missing.Count > 0 ? $"; VFs not parents again: {string.Join(", ", missing)}" : string.Empty)}): {string.Join(", ", lost)}.";
        }

        return said.Trim();
    }
}
