using System.Management.Automation;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

/// <summary>What every VdpaPS cmdlet shares: its own connection to the vdpa family, -Verbose tracing, and the error mapping.</summary>
/// <remarks>Each invocation opens its own socket, so cmdlets in parallel runspaces never share a reply stream or a verbose channel.</remarks>
public abstract class VdpaCmdlet : PSCmdlet, IDisposable
{
    private VdpaClient? _client;

    /// <summary>The vdpa client, opened on first use. A missing family ends the command: nothing else could run.</summary>
    protected VdpaClient Client
    {
        get
        {
            if (_client is null)
            {
                try
                {
                    _client = VdpaClient.Open();
                }
                catch (FamilyNotFoundException e)
                {
                    ThrowTerminatingError(VdpaErrors.FamilyMissing(e));
                }
                catch (NetlinkException e)
                {
                    ThrowTerminatingError(VdpaErrors.FromNetlink(e, null, VdpaTargetKind.Device));
                }

                _client!.Connection.Trace += WriteVerbose;
            }

            return _client;
        }
    }

    protected void WriteNetlinkError(NetlinkException e, object? target, VdpaTargetKind kind) =>
        WriteError(VdpaErrors.FromNetlink(e, target, kind));

    /// <summary>Picks the items whose names match; a literal name that matches nothing is an ObjectNotFound error, a wildcard that matches nothing is silent.</summary>
    protected IEnumerable<T> SelectByName<T>(IEnumerable<T> items, Func<T, string> nameOf, string[]? patterns, VdpaTargetKind kind)
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
            Matcher: new WildcardPattern(p, WildcardOptions.IgnoreCase))).ToArray();
        var matched = new bool[matchers.Length];
        foreach (var item in items)
        {
            var name = nameOf(item);
            var any = false;
            for (var i = 0; i < matchers.Length; i++)
            {
                if (matchers[i].Matcher.IsMatch(name))
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

    public void Dispose()
    {
        _client?.Dispose();
        GC.SuppressFinalize(this);
    }
}
