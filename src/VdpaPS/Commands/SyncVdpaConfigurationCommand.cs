using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Errors;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>
/// Makes the host match a configuration file: sets the physical functions' VFs first, creates missing devices (with their driver), sets MAC addresses, rebinds
/// drivers; recreates a device whose unchangeable attributes differ only with -Force; removes devices the file does not
/// name only with -Prune. A failure on one device is that device's error; the others still converge.
/// </summary>
[Cmdlet(VerbsData.Sync, "VdpaConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaDevice))]
public sealed class SyncVdpaConfigurationCommand : VdpaConfigurationCmdlet
{
    /// <summary>The configuration file. For a caller that can change devices it must be root's or the caller's alone (no other user may write it or a folder above its real path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>Remove devices the file does not name.</summary>
    [Parameter]
    public SwitchParameter Prune { get; set; }

    /// <summary>Remove and recreate a device whose parent, MTU, queue pairs or features differ (the kernel cannot change them on a live device).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Emit each device of the file as it is after the sync.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Wait up to this many seconds for parents the file names that are not there yet (at boot, drivers may load late).</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int WaitForParentSec { get; set; }

    private const string Activity = "Sync-VdpaConfiguration";

    private readonly Dictionary<string, int> _done = new(StringComparer.Ordinal);
    private int _failed;

    protected override void ProcessRecord()
    {
        var file = ResolveFilePath(Path);
        var configuration = ReadConfiguration(file, check: VdpaConfigurationFileCheck.AppliesToThisProcess);

        // Physical functions first: a device may sit on a VF parent that only its PF's section makes.
        var pfChanges = ComparePhysicalFunctions(configuration);
        foreach (var group in pfChanges.GroupBy(d => d.Name, StringComparer.Ordinal))
        {
            SyncPhysicalFunction(group.First().PhysicalFunction!);
        }

        var parents = WaitForParents(configuration);
        var host = ReadHost();
        var differences = VdpaConfigurationDiff.Compute(configuration, host, MacSettable);
        var byName = host.ToDictionary(s => s.Definition.Name, StringComparer.Ordinal);

        // Removals first: they free a parent that keeps one device for the device the file wants on it.
        var extras = differences.Where(d => d.Change == VdpaConfigurationChange.NotInFile).ToList();
        var groups = differences.Where(d => d.Change != VdpaConfigurationChange.NotInFile).GroupBy(d => d.Name, StringComparer.Ordinal).ToList();
        var total = (Prune ? extras.Count : 0) + groups.Count;
        var step = 0;
        foreach (var extra in extras)
        {
            if (!Prune)
            {
                Count("extra left (not in the file; -Prune removes)"); // the summary names these apart
                WriteVerbose($"vDPA device '{extra.Name}' is not in {file}; it stays (use -Prune to remove it).");
                continue;
            }

            Progress(ref step, total, $"Removing '{extra.Name}' (not in the file)");
            if (ShouldRemove($"vDPA device '{extra.Name}' (not in {file})", "Remove"))
            {
                Tally(RemoveForSync(byName[extra.Name].Device), "removed");
            }
        }

        foreach (var group in groups)
        {
            Progress(ref step, total, $"Converging '{group.Key}'");
            SyncDevice(group.ToList(), byName.GetValueOrDefault(group.Key), parents);
        }

        WriteProgress(new ProgressRecord(0, Activity, "Done") { RecordType = ProgressRecordType.Completed });
        WriteSummary(file, differences.Count + pfChanges.Count);

        if (PassThru)
        {
            foreach (var wanted in configuration.Devices)
            {
                if (TryRequest($"Reading vDPA device '{wanted.Name}' (DEV_GET).", c => c.GetDevice(wanted.Name), wanted.Name, VdpaTargetKind.Device, out var device))
                {
                    WriteObject(WithSysfs(device));
                }
            }
        }
    }

    /// <summary>One device's differences, in the order the diff gives them: a recreation (or its refusal), then MAC, then driver.</summary>
    private void SyncDevice(List<VdpaConfigurationDifference> changes, VdpaDeviceState? current, IReadOnlyList<VdpaParent> parents)
    {
        var wanted = changes[0].Definition!;
        if (changes[0].Change == VdpaConfigurationChange.Create)
        {
            if (ShouldProcess($"vDPA device '{wanted.Name}' ({VdpaConfigurationDiff.Summarize(wanted)})", "Create"))
            {
                Tally(CreateFromDefinition(wanted, parents, WaitForParentSec) == Created.AsAsked, "created");
            }

            return;
        }

        var recreate = changes.Where(d => d.Change == VdpaConfigurationChange.Recreate).ToList();
        if (recreate.Count > 0)
        {
            if (!Force)
            {
                WriteError(VdpaErrors.NeedsRecreate(wanted.Name, recreate));
                _failed++;
            }
            else
            {
                // A recreated device gets its MAC and driver with it: nothing else is left to do for it. One the user
                // declined to remove (-WhatIf, or No at the prompt) is neither done nor failed.
                if (Recreate(wanted, current!, recreate, parents) is { } recreated)
                {
                    Tally(recreated, "recreated");
                }

                return;
            }
        }

        foreach (var change in changes.Where(d => d.Change != VdpaConfigurationChange.Recreate))
        {
            if (change.Change == VdpaConfigurationChange.MacAddress)
            {
                if (ShouldProcess($"vDPA device '{wanted.Name}'", $"Set MAC address {change.Actual} -> {change.Desired}"))
                {
                    var mac = VdpaText.ParseMacAddress(change.Desired, out _)!;
                    Tally(TrySetMacAddress(wanted.Name, mac) is not null, "MAC address set");
                }
            }
            else if (change.Change == VdpaConfigurationChange.Driver)
            {
                var target = DriverNames.ToSysfs(change.Desired!);
                if (ShouldProcess($"vDPA device '{wanted.Name}'", target is null ? $"Unbind from {change.Actual}" : $"Bind to {target} (now {change.Actual})"))
                {
                    // Unbinding waits for the char device's or disk's holders, as removal does: never while the device may be in use.
                    Tally(TryChangeDriver(wanted.Name, change.Desired!, force: false), "driver bound");
                }
            }
        }
    }

    /// <summary>A PF as the file says, through Set-VdpaPhysicalFunction's path; -Force removes devices on VFs that go, when none is in use.</summary>
    private void SyncPhysicalFunction(VdpaPhysicalFunctionDefinition wanted)
    {
        if (VdpaSriov.Default.GetPhysicalFunction(wanted.PciAddress) is not { } pf)
        {
            WriteError(VdpaErrors.PhysicalFunctionMissing(wanted.PciAddress));
            _failed++;
            return;
        }

        if (TrySetPhysicalFunction(WithVdpaState([pf])[0], wanted.VfCount, wanted.VfDriver, Force, PhysicalFunctionTimeoutSec) is { } done)
        {
            Tally(done, "physical function(s) set");
        }
    }

    // How long a PF's VFs may take to become vDPA parents (as Set-VdpaPhysicalFunction's default).
    private const int PhysicalFunctionTimeoutSec = 30;

    /// <summary>
    /// -Force's remove and create, never losing the device: the new form is checked against what its parent offers before
    /// anything is removed, and when the parent refuses it all the same, the device is created again as it was.
    /// </summary>
    /// <returns>Whether the device is in its new form; null when the removal was declined (nothing was done).</returns>
    private bool? Recreate(VdpaDeviceDefinition wanted, VdpaDeviceState current, List<VdpaConfigurationDifference> recreate, IReadOnlyList<VdpaParent> parents)
    {
        var what = string.Join(", ", recreate.Select(d => $"{d.Attribute} {d.Actual} -> {d.Desired}"));
        if (SpecFor(wanted, parents, WaitForParentSec) is not { } found)
        {
            return false;
        }

        var (spec, parent) = found;

        var problems = VdpaProvisioning.CheckFits(spec, parent, VdpaSysfs.Default.GetParentKind(parent.Name));
        if (problems.Count > 0)
        {
            WriteError(VdpaErrors.RecreateRefused(wanted.Name, what, problems));
            return false;
        }

        // A move to another parent that keeps one device (vp_vdpa) needs that parent free; on its own parent the device frees it.
        if (!VdpaParentName.Same(parent.Name, current.Device.Parent) && !CheckParentHasRoom(parent, wanted.Name))
        {
            return false;
        }

        // The device as it is, in the words its parent takes back: what a failed create falls back to.
        var former = VdpaProvisioning.Restorable(current.Definition, VdpaSysfs.Default.GetParentKind(current.Device.Parent));
        if (!ShouldRemove($"vDPA device '{wanted.Name}' ({what})", "Remove and recreate"))
        {
            return null;
        }

        if (!RemoveForSync(current.Device))
        {
            return false;
        }

        var created = CreateFromDefinition(wanted, parents, WaitForParentSec);
        if (created != Created.Not)
        {
            return created == Created.AsAsked;
        }

        WriteVerbose($"vDPA device '{wanted.Name}' could not be created as the file says; creating it again as it was ({VdpaConfigurationDiff.Summarize(former)}).");
        var restored = CreateFromDefinition(former, parents, WaitForParentSec);
        WriteError(VdpaErrors.RecreateFailed(wanted.Name, what, VdpaConfigurationDiff.Summarize(former), restored != Created.Not));
        return false;
    }

    /// <summary>
    /// A removal asks as Remove-VdpaDevice does (ConfirmImpact High), although the rest of a sync is Medium: -WhatIf and
    /// -Confirm go through ShouldProcess; under $ConfirmPreference High (the default), which lets Medium pass without a
    /// word, ShouldContinue asks. -Confirm:$false and $ConfirmPreference None do not ask (the boot unit removes nothing).
    /// </summary>
    private bool ShouldRemove(string target, string action)
    {
        if (!ShouldProcess(target, action))
        {
            return false;
        }

        if (MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm))
        {
            return true; // -Confirm asked already (ShouldProcess); -Confirm:$false means do not ask
        }

        var preference = GetVariableValue("ConfirmPreference") is { } value && LanguagePrimitives.TryConvertTo<ConfirmImpact>(value, out var parsed)
            ? parsed
            : ConfirmImpact.High;
        if (preference <= ConfirmImpact.Medium)
        {
            return true; // None: never ask; Low or Medium: ShouldProcess asked
        }

        return _yesToAll || (!_noToAll && ShouldContinue($"{action} {target}? Whatever uses the device loses it.", "Remove vDPA device", ref _yesToAll, ref _noToAll));
    }

    private bool _yesToAll;
    private bool _noToAll;

    /// <summary>
    /// Every removal Sync makes (-Prune, and -Force's recreation) goes through here, so a device in use is never removed.
    /// </summary>
    /// <remarks>-Force recreates a device whose attributes differ, but never one in use: the usage check runs without it.</remarks>
    private bool RemoveForSync(VdpaDevice device) => TryRemoveDevice(device, force: false);

    /// <summary>
    /// The parents the file names, waiting up to -WaitForParentSec for any not there yet: subscribed to the kernel's uevents
    /// first, then checked, then checked again on each event that can bring a parent (a module's add, a driver's bind).
    /// </summary>
    private IReadOnlyList<VdpaParent> WaitForParents(VdpaConfiguration configuration)
    {
        IReadOnlyList<VdpaParent> ListParents() => DumpOrStop($"Listing vDPA parents (MGMTDEV_GET dump).", c => c.GetParents(), VdpaTargetKind.Parent);
        bool Missing(IReadOnlyList<VdpaParent> list) => configuration.Devices.Any(d => VdpaParentName.Resolve(d.Parent, list) is null);
        var parents = ListParents();
        if (WaitForParentSec <= 0 || !Missing(parents))
        {
            return parents;
        }

        WriteVerbose($"Waiting up to {WaitForParentSec} s for the parents the file names (kernel uevents).");
        var watch = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(WaitForParentSec);
        bool Found()
        {
            parents = ListParents();
            if (!Missing(parents))
            {
                return true;
            }

            WriteProgress(new ProgressRecord(0, Activity, "Waiting for parents") { StatusDescription = $"{watch.Elapsed.TotalSeconds:N0} of {WaitForParentSec} s" });
            return false;
        }

        WaitForUevents(Found, VdpaUevents.MayAddParent, () => limit - watch.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero);
        return parents;
    }

    private void Progress(ref int step, int total, string status)
    {
        WriteProgress(new ProgressRecord(0, Activity, status) { PercentComplete = total == 0 ? 100 : step * 100 / total });
        step++;
    }

    private void Tally(bool succeeded, string what)
    {
        if (succeeded)
        {
            Count(what);
        }
        else
        {
            _failed++;
        }
    }

    private void Count(string what) => _done[what] = _done.GetValueOrDefault(what) + 1;

    /// <summary>What the run did, as one line on the host (the journal, at boot); the same as information for scripts.</summary>
    private void WriteSummary(string file, int differences)
    {
        const string ExtraLeft = "extra left (not in the file; -Prune removes)";
        var changes = _done.Where(p => p.Key != ExtraLeft).Select(p => $"{p.Value.ToString(CultureInfo.InvariantCulture)} {p.Key}").ToList();
        if (_failed > 0)
        {
            changes.Add($"{_failed.ToString(CultureInfo.InvariantCulture)} failed");
        }

        var text = differences == 0 ? "the host already matches the file; nothing was changed"
            : changes.Count == 0 ? "nothing was changed"
            : string.Join(", ", changes);
        if (_done.GetValueOrDefault(ExtraLeft) is > 0 and var extra)
        {
            text += $"; {extra.ToString(CultureInfo.InvariantCulture)} device(s) not in the file left as they are (-Prune removes them)";
        }

        text = $"{file}: {text}.";
        WriteInformation(new HostInformationMessage { Message = $"Sync-VdpaConfiguration: {text}" }, ["PSHOST", "VdpaSyncSummary"]);
    }
}
