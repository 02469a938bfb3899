using System.Diagnostics.CodeAnalysis;
using System.Management.Automation.Runspaces;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>What every VdpaPS cmdlet shares: its runspace's connection to the vdpa family, -Verbose tracing, and the error mapping.</summary>
/// <remarks>
/// A runspace keeps one connection between commands (<see cref="Shelf"/>): a command has it to itself while it runs, so
/// cmdlets in parallel runspaces never share a reply stream or a verbose channel.
/// </remarks>
public abstract partial class VdpaCmdlet : PSCmdlet, IDisposable
{
    /// <summary>Each runspace's idle client; closed when the runspace closes.</summary>
    internal static readonly VdpaClientShelf Shelf = new(firstTake: owner =>
        ((Runspace)owner).StateChanged += (_, e) =>
        {
            if (e.RunspaceStateInfo.State is RunspaceState.Closed or RunspaceState.Broken)
            {
                Shelf!.Close(owner);
            }
        });

    private VdpaClient? _client;

    // The runspace the client was taken for (null: none, the client is this command's alone).
    private Runspace? _owner;

    // Cancelled by StopProcessing (Ctrl+C, PowerShell.Stop()): ends every wait for the kernel.
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The vdpa client, opened on first use. A missing family ends the command: nothing else could run.</summary>
    private protected VdpaClient Client
    {
        get
        {
            if (_client is null)
            {
                try
                {
                    _owner = Runspace.DefaultRunspace;
                    _client = _owner is null ? VdpaClient.Open(cancellation: _stopping.Token) : Shelf.Take(_owner, _stopping.Token);
                }
                catch (FamilyNotFoundException e)
                {
                    ThrowTerminatingError(VdpaErrors.FamilyMissing(e, new VdpaKernelSupport().Diagnose()));
                }
                catch (NetlinkException e)
                {
                    ThrowTerminatingError(VdpaErrors.FromNetlink(e, default, VdpaTargetKind.Device));
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    throw new PipelineStoppedException();
                }

                Listen(_client!);
            }

            return _client!;
        }
    }

    /// <summary>With -Verbose: what goes over the wire, and what a request waits for while the kernel does not answer.</summary>
    private protected void Listen(VdpaClient client)
    {
        if (VerboseEnabled)
        {
            client.Connection.Trace += WriteVerbose;
            client.Connection.Waiting += SayWaiting;
        }
    }

    /// <summary>A request the kernel has not answered yet, and who may hold it up (the vdpa lock).</summary>
    private void SayWaiting(GenericRequest request, TimeSpan waited)
    {
        if (_stopping.IsCancellationRequested)
        {
            return; // The wait ends at its next check; the pipeline takes no more output.
        }

        try
        {
            WriteVerbose($"Waiting {VdpaLockHolders.Seconds(waited)} so far for the kernel's answer to {request.Operation}: {VdpaLockHolders.Default.Describe()}.");
        }
        catch (PipelineStoppedException)
        {
            // Stopped meanwhile: the request's own wait sees the cancellation next.
        }
    }

    /// <summary>Cancelled by StopProcessing: for waits of a cmdlet's own (uevents), as the client's requests use it.</summary>
    private protected CancellationToken StopToken => _stopping.Token;

    protected override void StopProcessing()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The command already ended.
        }
    }

    /// <summary>Takes the client from the command (to keep it for the runspace or close it).</summary>
    private VdpaClient? DetachClient()
    {
        var client = _client;
        _client = null;
        if (client is not null)
        {
            client.Connection.Trace -= WriteVerbose;
            client.Connection.Waiting -= SayWaiting;
        }

        return client;
    }

    // The device whose DEV_NEW is on its way (TryCreateDevice): a stop during it removes what the kernel makes after all.
    private string? _creating;

    private PipelineStoppedException Stopped(OperationCanceledException e)
    {
        if (e is NetlinkRequestCanceledException { Request.Command: (byte)VdpaCommand.DeviceNew } request && _creating is { } name && _client is { } client)
        {
            FinishStoppedCreate(client, request, name);
        }

        return new PipelineStoppedException();
    }

    /// <summary>
    /// Stopped while the kernel still works on DEV_NEW (a VDUSE parent without its daemon holds it for its message timeout):
    /// the kernel may yet create the device. Its answer is awaited here, and a device it made removed, before the command
    /// returns (a task left behind would be lost when pwsh or the boot unit exits). Bounded by the longest hold the vdpa lock
    /// can have now; what could not be finished is a warning. The pipeline is stopping, so both go to the host directly.
    /// </summary>
    private void FinishStoppedCreate(VdpaClient client, NetlinkRequestCanceledException request, string name)
    {
        var holders = VdpaLockHolders.Default;
        var limit = TimeSpan.FromSeconds(Math.Clamp((holders.LongestHold() ?? TimeSpan.Zero).TotalSeconds + 5, 10, 120));
        var ui = Host?.UI;
        var verbose = VerboseEnabled;
        if (verbose)
        {
            ui?.WriteVerboseLine($"Stopped during DEV_NEW of vDPA device '{name}', which the kernel still runs: waiting up to {VdpaLockHolders.Seconds(limit)} " +
                $"for its answer, to remove the device if it is made ({holders.Describe()}).");
        }

        var outcome = client.FinishStoppedCreate(request, name, limit);
        switch (outcome.Outcome)
        {
            case VdpaStoppedCreateOutcome.Removed when verbose:
                ui?.WriteVerboseLine($"The kernel made vDPA device '{name}' after the stop; it was removed.");
                break;
            case VdpaStoppedCreateOutcome.NotCreated when verbose:
                ui?.WriteVerboseLine($"The kernel did not make vDPA device '{name}': {outcome.Detail}");
                break;
            case VdpaStoppedCreateOutcome.Unknown:
                ui?.WriteWarningLine($"Stopped during DEV_NEW of vDPA device '{name}', and the cleanup could not finish: {outcome.Detail}. The kernel may " +
                    $"still make the device ({holders.Describe()}); if Get-VdpaDevice '{name}' shows it, remove it with Remove-VdpaDevice.");
                break;
        }
    }

    private protected void WriteNetlinkError(NetlinkException e, ErrorTarget target, VdpaTargetKind kind, VdpaParent? parent = null) =>
        WriteError(VdpaErrors.FromNetlink(e, target, kind, parent));

    /// <summary>
    /// The one way a cmdlet asks the kernel about one item: says what it asks (-Verbose; the connection's trace adds
    /// what went over the wire), and turns a refusal into a non-terminating error so the next item still runs.
    /// </summary>
    private protected bool TryRequest<T>([InterpolatedStringHandlerArgument("")] VerboseMessage asking, Func<VdpaClient, T> request, ErrorTarget target, VdpaTargetKind kind, [MaybeNullWhen(false)] out T result,
        VdpaParent? parent = null)
    {
        var client = Client;
        WriteVerbose(asking);
        try
        {
            result = request(client);
            return true;
        }
        catch (NetlinkException e)
        {
            WriteNetlinkError(e, target, kind, parent);
            result = default;
            return false;
        }
        catch (OperationCanceledException e) when (_stopping.IsCancellationRequested)
        {
            throw Stopped(e);
        }
    }

    /// <summary>A dump: when it fails nothing else could be listed either, so the command ends.</summary>
    private protected T DumpOrStop<T>([InterpolatedStringHandlerArgument("")] VerboseMessage asking, Func<VdpaClient, T> dump, VdpaTargetKind kind)
    {
        var client = Client;
        WriteVerbose(asking);
        try
        {
            return dump(client);
        }
        catch (NetlinkException e)
        {
            ThrowTerminatingError(VdpaErrors.FromNetlink(e, default, kind));
            throw; // not reached: ThrowTerminatingError throws
        }
        catch (OperationCanceledException e) when (_stopping.IsCancellationRequested)
        {
            throw Stopped(e);
        }
    }

    /// <summary>
    /// The one way names become objects: literal names are each asked for on their own (<paramref name="askOne"/> writes
    /// the error for a miss and returns null); anything with a wildcard, or no name at all, comes from one listing
    /// (<paramref name="listMatching"/>, which filters by the names).
    /// </summary>
    private protected static IEnumerable<T> ResolveNames<T>(string[]? names, Func<string, T?> askOne, Func<string[]?, IEnumerable<T>> listMatching)
        where T : class
    {
        if (names is { Length: > 0 } && !Array.Exists(names, WildcardPattern.ContainsWildcardCharacters))
        {
            foreach (var name in names)
            {
                if (askOne(name) is { } item)
                {
                    yield return item;
                }
            }

            yield break;
        }

        foreach (var item in listMatching(names))
        {
            yield return item;
        }
    }

    /// <summary>One item asked for on its own: the item, or null after writing this item's error.</summary>
    private protected T? AskOne<T>([InterpolatedStringHandlerArgument("")] VerboseMessage asking, Func<VdpaClient, T> request, ErrorTarget target, VdpaTargetKind kind)
        where T : class =>
        TryRequest(asking, request, target, kind, out var result) ? result : null;

    /// <summary>Devices by name: a literal name is a DEV_GET (a miss is the kernel's ENODEV, mapped to VdpaDeviceNotFound); the rest one DEV_GET dump.</summary>
    private protected IEnumerable<VdpaDevice> ResolveDevices(string[]? names) =>
        ResolveNames(names,
            name => AskOne($"Reading vDPA device '{name}' (DEV_GET).", c => c.GetDevice(name), name, VdpaTargetKind.Device),
            patterns => SelectByName(DumpOrStop($"Listing vDPA devices (DEV_GET dump).", c => c.GetDevices(), VdpaTargetKind.Device),
                d => d.Name, patterns, VdpaTargetKind.Device));

    /// <summary>
    /// Parents by name: a literal name is one MGMTDEV_GET when it is the kernel's own (any other spelling is resolved
    /// against the list); with a wildcard, the list filtered here, where a wildcard also matches a bus parent's address alone.
    /// </summary>
    private protected IEnumerable<VdpaParent> ResolveParents(string[]? names) =>
        ResolveNames(names, ResolveParentOrWriteNotFound,
            patterns =>
            {
                var (parents, resolved) = ResolveParentNames(patterns);
                return SelectByName(parents, p => p.Name, resolved, VdpaTargetKind.Parent, VdpaParentName.Spellings);
            });

    /// <summary>
    /// The parents a user's names mean: literal names resolved to the kernel's own (any case, or a bus parent's address
    /// alone), wildcards kept. The kernel's list comes with them, so a caller asks once.
    /// </summary>
    private (IReadOnlyList<VdpaParent> Parents, string[]? Names) ResolveParentNames(string[]? names)
    {
        var parents = DumpOrStop($"Listing vDPA parents (MGMTDEV_GET dump).", c => c.GetParents(), VdpaTargetKind.Parent);
        if (names is null)
        {
            return (parents, null);
        }

        var resolved = names.Select(n => WildcardPattern.ContainsWildcardCharacters(n) ? n : VdpaParentName.Resolve(n, parents)?.Name ?? n).ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            SayResolved(names[i], resolved[i]);
        }

        return (parents, resolved);
    }

    /// <summary>
    /// One literal parent name as the kernel names it (any case, or a bus parent's address alone); null when none matches.
    /// A refusal other than "no such parent" ends the command, as a failed dump would.
    /// </summary>
    private protected VdpaParent? ResolveParent(string typed)
    {
        var parent = DumpOrStop($"Asking for vDPA parent '{typed}' (MGMTDEV_GET; a dump when the kernel names it otherwise).", c => c.FindParent(typed),
            VdpaTargetKind.Parent);
        if (parent is not null)
        {
            SayResolved(typed, parent.Name);
        }

        return parent;
    }

    /// <summary>A literal parent name that must exist: the parent, or null after writing VdpaParentNotFound.</summary>
    private protected VdpaParent? ResolveParentOrWriteNotFound(string typed)
    {
        var parent = ResolveParent(typed);
        if (parent is null)
        {
            WriteError(VdpaErrors.NotFound(VdpaTargetKind.Parent, typed));
        }

        return parent;
    }

    private void SayResolved(string typed, string kernelName)
    {
        if (!string.Equals(typed, kernelName, StringComparison.Ordinal))
        {
            WriteVerbose($"Parent '{typed}' is the kernel's '{kernelName}'.");
        }
    }

    /// <summary>Adds what sysfs knows and netlink does not (driver, vhost char device, netdev or disk); a device sysfs cannot read stays as netlink described it.</summary>
    private protected static VdpaDevice WithSysfs(VdpaDevice device)
    {
        try
        {
            VdpaSysfs.Default.Describe(device);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // sysfs details are extras: a device that vanished or an unreadable file must not hide the netlink answer.
        }

        return device;
    }

    /// <summary>Adds what sysfs knows of a PCI parent (its PCI driver, the PF of a VF); a parent sysfs cannot read stays as netlink described it.</summary>
    private protected static VdpaParent WithSysfs(VdpaParent parent)
    {
        try
        {
            VdpaSysfs.Default.DescribeParent(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // As for devices: sysfs details are extras.
        }

        return parent;
    }

    /// <summary>Writes an input error for a value refused before it reached the kernel; false when <paramref name="problem"/> is null.</summary>
    private protected bool RefuseInput(string? problem, string errorId, ErrorTarget target)
    {
        if (problem is null)
        {
            return false;
        }

        WriteError(VdpaErrors.InvalidInput(errorId, problem, target));
        return true;
    }

    /// <summary>Picks the items whose names match; a literal name that matches nothing is an ObjectNotFound error, a wildcard that matches nothing is silent.</summary>
    /// <param name="spellingsOf">Every spelling a name may be matched by (a parent's: <see cref="VdpaParentName.Spellings"/>); the name alone by default.</param>
    private protected IEnumerable<T> SelectByName<T>(IEnumerable<T> items, Func<T, string> nameOf, string[]? patterns, VdpaTargetKind kind,
        Func<string, IEnumerable<string>>? spellingsOf = null)
    {
        if (patterns is null || patterns.Length == 0)
        {
            foreach (var item in items)
            {
                yield return item;
            }

            yield break;
        }

        var matchers = patterns.Select(p => (Pattern: p, Wildcard: WildcardPattern.ContainsWildcardCharacters(p),
            Matcher: NamePattern(p, kind))).ToArray();
        var matched = new bool[matchers.Length];
        foreach (var item in items)
        {
            var name = nameOf(item);
            string[] spellings = spellingsOf is null ? [name] : [.. spellingsOf(name)];
            var any = false;
            for (var i = 0; i < matchers.Length; i++)
            {
                if (Array.Exists(spellings, matchers[i].Matcher.IsMatch))
                {
                    matched[i] = true;
                    any = true;
                }
            }

            if (any)
            {
                yield return item;
            }
        }

        for (var i = 0; i < matchers.Length; i++)
        {
            if (!matched[i] && !matchers[i].Wildcard)
            {
                WriteError(VdpaErrors.NotFound(kind, matchers[i].Pattern));
            }
        }
    }

    /// <summary>
    /// A name pattern, matched with the case rule its literal names follow: a device name is the kernel's, and the kernel
    /// tells vdpa0 from VDPA0 (a DEV_GET of one does not find the other), so a wildcard does too; a parent name is
    /// resolved in any case (<see cref="VdpaParentName"/>), so its wildcard ignores case.
    /// </summary>
    private protected static WildcardPattern NamePattern(string pattern, VdpaTargetKind kind) =>
        new(pattern, kind == VdpaTargetKind.Parent ? WildcardOptions.IgnoreCase : WildcardOptions.None);

    public void Dispose()
    {
        if (DetachClient() is { } client)
        {
            // A stopped command's connection may still get the answer to what it asked: never handed on.
            if (_owner is null || _stopping.IsCancellationRequested)
            {
                client.Dispose();
            }
            else
            {
                Shelf.Return(_owner, client);
            }
        }

        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
