using System.Runtime.InteropServices;

namespace VdpaPS.Netlink.Protocol;

/// <summary>The errno values the vdpa family and the socket layer return (Linux generic numbering).</summary>
internal static class LinuxErrno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;
    public const int EPROTO = 71;
    public const int EMSGSIZE = 90;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int ENOBUFS = 105;
    public const int ETIMEDOUT = 110;

    private static readonly Dictionary<int, string> Names = new()
    {
        [EPERM] = "EPERM", [ENOENT] = "ENOENT", [EINTR] = "EINTR", [EIO] = "EIO", [EAGAIN] = "EAGAIN",
        [ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EBUSY] = "EBUSY", [EEXIST] = "EEXIST", [ENODEV] = "ENODEV",
        [EINVAL] = "EINVAL", [ENOSPC] = "ENOSPC", [ERANGE] = "ERANGE", [EPROTO] = "EPROTO", [EMSGSIZE] = "EMSGSIZE",
        [EPROTONOSUPPORT] = "EPROTONOSUPPORT", [EOPNOTSUPP] = "EOPNOTSUPP", [ENOBUFS] = "ENOBUFS", [ETIMEDOUT] = "ETIMEDOUT",
    };

    /// <summary>"ENODEV (No such device)": the symbolic name where known, and the C library's text.</summary>
    public static string DescribeErrno(this int errno)
    {
        var text = Marshal.GetPInvokeErrorMessage(errno);
        return Names.TryGetValue(errno, out var name) ? $"{name} ({text})" : $"errno {errno} ({text})";
    }
}
