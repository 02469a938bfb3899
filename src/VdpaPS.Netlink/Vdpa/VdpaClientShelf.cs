using System.Runtime.CompilerServices;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// Keeps one open client per owner (a PowerShell runspace) between commands, so a runspace that makes many calls does not
/// open a socket and build a client for each. A command takes the client for its whole run and gives it back at its end:
/// while it is taken nobody else has it (another command of the same runspace meanwhile, a pipeline's second cmdlet,
/// opens one of its own), and owners never share one, so two runspaces never read each other's replies.
/// </summary>
/// <remarks>
/// A client comes back only when its connection is <see cref="Protocol.NetlinkConnection.Synchronized"/>: after a
/// cancelled request (Ctrl+C), a socket or protocol error, it is closed, and the owner's next command opens a new one.
/// A kept client takes the family from the process's cache again when it is taken, as a new client would; it also
/// resolves it again itself when the vdpa module was reloaded.
/// </remarks>
internal sealed class VdpaClientShelf
{
    private sealed class Slot
    {
        public VdpaClient? Idle;
    }

    private readonly ConditionalWeakTable<object, Slot> _slots = new();
    private readonly Func<CancellationToken, VdpaClient> _open;
    private readonly ConditionalWeakTable<object, Slot>.CreateValueCallback _newSlot;

    /// <param name="open">Opens a client (the default: <see cref="VdpaClient.Open"/>, a socket of its own).</param>
    /// <param name="firstTake">Called once for each new owner, when its first client is taken (to learn when it ends: <see cref="Close"/>).</param>
    public VdpaClientShelf(Func<CancellationToken, VdpaClient>? open = null, Action<object>? firstTake = null)
    {
        _open = open ?? (cancellation => VdpaClient.Open(cancellation: cancellation));
        _newSlot = owner =>
        {
            firstTake?.Invoke(owner);
            return new Slot();
        };
    }

    /// <summary>
    /// The owner's idle client, or a new one when it has none (or it is taken). Its requests end when
    /// <paramref name="cancellation"/> is cancelled. Give it back with <see cref="Return"/>.
    /// </summary>
    /// <exception cref="Protocol.FamilyNotFoundException">Opening a client: the vdpa module is not loaded.</exception>
    public VdpaClient Take(object owner, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        var client = Interlocked.Exchange(ref _slots.GetValue(owner, _newSlot).Idle, null);
        if (client is null)
        {
            return _open(cancellation);
        }

        client.Connection.Cancellation = cancellation;
        try
        {
            client.RefreshFamily();
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return client;
    }

    /// <summary>
    /// Keeps the client for the owner's next command when its connection is in step with the kernel and the owner has
    /// no idle client; otherwise closes it.
    /// </summary>
    public void Return(object owner, VdpaClient client)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(client);
        client.Connection.Cancellation = default;
        if (!client.Connection.Synchronized ||
            !_slots.TryGetValue(owner, out var slot) ||
            Interlocked.CompareExchange(ref slot.Idle, client, null) is not null)
        {
            client.Dispose();
        }
    }

    /// <summary>Closes the owner's idle client and forgets the owner (its runspace closed).</summary>
    public void Close(object owner)
    {
        if (_slots.TryGetValue(owner, out var slot))
        {
            _slots.Remove(owner);
            Interlocked.Exchange(ref slot.Idle, null)?.Dispose();
        }
    }
}
