using System.Runtime.InteropServices;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

/// <summary>The C library found on glibc and on musl, through the files the resolution tries for glibc's names.</summary>
public sealed class LibCLibraryTests
{
    [Fact]
    public void GlibcNamesFallBackToMuslsLibcOfTheArchitecture()
    {
        Assert.Equal(["libc.so.6", "libc.musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1", "/lib/ld-musl-x86_64.so.1", "libc.so"],
            LibCLibrary.Candidates("libc.so.6", Architecture.X64));
        Assert.Equal(["libdl.so.2", "libc.so.6", "libc.musl-aarch64.so.1", "/lib/libc.musl-aarch64.so.1", "/lib/ld-musl-aarch64.so.1", "libc.so"],
            LibCLibrary.Candidates("libdl.so.2", Architecture.Arm64));
        Assert.Contains("libc.musl-x86_64.so.1", LibCLibrary.Candidates("libpthread.so.0", Architecture.X64));
    }

    [Fact]
    public void OtherLibrariesAreLeftToTheRuntime()
    {
        Assert.Empty(LibCLibrary.Candidates("libssl.so.3", Architecture.X64));
        Assert.Equal(IntPtr.Zero, LibCLibrary.Resolve("libssl.so.3", Architecture.X64, _ => throw new InvalidOperationException("not to be tried")));
    }

    [Fact]
    public void TheFirstCandidateThatLoadsIsTaken()
    {
        // A musl system: glibc's name does not load, musl's soname does.
        var tried = new List<string>();
        var handle = LibCLibrary.Resolve("libc.so.6", Architecture.X64, file =>
        {
            tried.Add(file);
            return file == "libc.musl-x86_64.so.1" ? 42 : IntPtr.Zero;
        });
        Assert.Equal(42, handle);
        Assert.Equal(["libc.so.6", "libc.musl-x86_64.so.1"], tried);
        Assert.Equal(IntPtr.Zero, LibCLibrary.Resolve("libc.so.6", Architecture.X64, _ => IntPtr.Zero));
    }

    [Fact]
    public void OnThisMachineTheCLibraryResolvesAndTheCoresImportsWork()
    {
        var handle = LibCLibrary.Resolve("libc.so.6", RuntimeInformation.ProcessArchitecture,
            file => NativeLibrary.TryLoad(file, out var h) ? h : IntPtr.Zero);
        Assert.NotEqual(IntPtr.Zero, handle);
        Assert.True(NativeLibrary.TryGetExport(handle, "poll", out _));
    }
}
