using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Tmds.Linux;

namespace VdpaPS.Netlink.Protocol;

/// <summary>
/// The C library on glibc and on musl. Tmds.LibC and the core's own imports name glibc's files (libc.so.6; Tmds.LibC also
/// libdl.so.2 and libpthread.so.0), which musl (Alpine) does not have: there one file, libc.musl-ARCH.so.1, is all three.
/// When the runtime's own lookup of one of those names fails, <see cref="Resolve"/> tries the files of <see cref="Candidates"/>.
/// </summary>
/// <remarks>
/// An AssemblyLoadContext.ResolvingUnmanagedDll handler, not NativeLibrary.SetDllImportResolver: it runs only after the
/// default lookup failed (nothing changes on glibc), and a load context takes any number of handlers, while an
/// assembly takes one resolver, which a host may have set already.
/// </remarks>
internal static class LibCLibrary
{
    /// <summary>The name the core's own imports use, as Tmds.LibC's do.</summary>
    public const string Name = "libc.so.6";

    // glibc's names for what musl keeps in its one libc (libdl and libpthread joined glibc's libc.so.6 in 2.34 too).
    private static readonly string[] GlibcNames = [Name, "libdl.so.2", "libpthread.so.0"];

    private static readonly ConditionalWeakTable<AssemblyLoadContext, object> Registered = new();

    /// <summary>Registers the resolution for the load context the core runs in, when the core is loaded.</summary>
    /// <remarks>A module initializer, so every host of the core (the module, tests, benchmarks) has it before its first import runs.</remarks>
#pragma warning disable CA2255 // The core's imports need it before any of its code runs, whoever loads the core.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterForCore() => Register(AssemblyLoadContext.GetLoadContext(typeof(LibCLibrary).Assembly));

    /// <summary>Resolves the C library's glibc names for every assembly of <paramref name="context"/> (once per context).</summary>
    public static void Register(AssemblyLoadContext? context)
    {
        if (context is not null && Registered.TryAdd(context, Registered))
        {
            context.ResolvingUnmanagedDll += (_, name) => Resolve(name, RuntimeInformation.ProcessArchitecture, TryLoad);
        }
    }

    /// <summary>
    /// The files that can stand for <paramref name="requested"/>, in the order they are tried: glibc's name itself, its
    /// libc.so.6, then musl's libc by its soname, its paths in /lib, and the development link libc.so. Empty for a
    /// library the C library does not provide.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string requested, Architecture architecture)
    {
        if (Array.IndexOf(GlibcNames, requested) < 0)
        {
            return [];
        }

        var candidates = new List<string> { requested };
        if (requested != Name)
        {
            candidates.Add(Name);
        }

        if (MuslArchitecture(architecture) is { } arch)
        {
            candidates.Add($"libc.musl-{arch}.so.1");
            candidates.Add($"/lib/libc.musl-{arch}.so.1");
            candidates.Add($"/lib/ld-musl-{arch}.so.1");
        }

        candidates.Add("libc.so");
        return candidates;
    }

    /// <summary>The first candidate <paramref name="tryLoad"/> loads; IntPtr.Zero when none does (the runtime then reports the import's failure).</summary>
    public static IntPtr Resolve(string requested, Architecture architecture, Func<string, IntPtr> tryLoad)
    {
        foreach (var candidate in Candidates(requested, architecture))
        {
            if (tryLoad(candidate) is var handle && handle != IntPtr.Zero)
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }

    /// <summary>musl's name for the architecture in its file names (ld-musl-x86_64.so.1), null where musl has none.</summary>
    private static string? MuslArchitecture(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        Architecture.Arm => "armhf",
        Architecture.X86 => "x86",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "powerpc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loongarch64",
        _ => null,
    };

    private static IntPtr TryLoad(string file) => NativeLibrary.TryLoad(file, out var handle) ? handle : IntPtr.Zero;

    /// <summary>
    /// poll(2) with its errno kept: Tmds.LibC declares poll without SetLastError, so its errno property then reads whatever
    /// call before it failed last on the thread (an EAGAIN from draining the eventfd), and an interrupted poll (EINTR, which
    /// is to be retried) was reported as "poll failed: EAGAIN".
    /// </summary>
    [DllImport(Name, EntryPoint = "poll", SetLastError = true)]
    internal static extern unsafe int Poll(pollfd* fds, ulong count, int timeoutMilliseconds);

    /// <summary>The errno of the last import declared with SetLastError, on this thread.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();
}
