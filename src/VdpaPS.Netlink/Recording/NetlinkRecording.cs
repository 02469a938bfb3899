using System.Globalization;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Recording;

/// <summary>The text form of a recorded conversation with the kernel: one datagram a line, "send HEX" or "recv HEX".</summary>
/// <remarks>Shared by the recorder that runs in the lab kernel and the replay the unit tests use, so both read one format.</remarks>
internal static class NetlinkRecording
{
    public const string SendPrefix = "send ";
    public const string ReceivePrefix = "recv ";

    public static string FormatLine(bool sent, ReadOnlySpan<byte> datagram) =>
        (sent ? SendPrefix : ReceivePrefix) + Convert.ToHexString(datagram).ToLowerInvariant();

    /// <summary>Reads the datagrams of a recording; '#' lines are comments.</summary>
    public static IReadOnlyList<(bool Sent, byte[] Datagram)> Parse(IEnumerable<string> lines)
    {
        var result = new List<(bool, byte[])>();
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var sent = line.StartsWith(SendPrefix, StringComparison.Ordinal);
            if (!sent && !line.StartsWith(ReceivePrefix, StringComparison.Ordinal))
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Not a recording line: '{line[..Math.Min(line.Length, 20)]}'."));
            }

            result.Add((sent, Convert.FromHexString(line[SendPrefix.Length..])));
        }

        return result;
    }
}

/// <summary>Passes datagrams through to another transport and writes each one, as sent or received, to a recording.</summary>
internal sealed class RecordingTransport : INetlinkTransport
{
    private readonly INetlinkTransport _inner;
    private readonly TextWriter _log;

    public RecordingTransport(INetlinkTransport inner, TextWriter log)
    {
        _inner = inner;
        _log = log;
    }

    public uint PortId => _inner.PortId;

    public void Send(ReadOnlySpan<byte> datagram)
    {
        _log.WriteLine(NetlinkRecording.FormatLine(true, datagram));
        _inner.Send(datagram);
    }

    public int Receive(ref byte[] buffer) => Receive(ref buffer, CancellationToken.None);

    public int Receive(ref byte[] buffer, CancellationToken cancellation)
    {
        var length = _inner.Receive(ref buffer, cancellation);
        _log.WriteLine(NetlinkRecording.FormatLine(false, buffer.AsSpan(0, length)));
        return length;
    }

    public void Dispose() => _inner.Dispose();
}
