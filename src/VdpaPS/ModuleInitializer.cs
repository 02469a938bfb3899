using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace VdpaPS;

/// <summary>Runs when the module is imported: refuses other systems, and loads Tmds.LibC for this machine's architecture.</summary>
/// <remarks>Tmds.LibC ships one assembly per Linux runtime, and PowerShell's module loader does not look in runtimes/ folders.</remarks>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string ModuleDirectory = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;

    public void OnImport()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            throw new PlatformNotSupportedException("VdpaPS manages Linux vDPA devices through netlink and runs only on Linux.");
        }

        AssemblyLoadContext.Default.Resolving += ResolveLibC;
    }

    public void OnRemove(PSModuleInfo module) => AssemblyLoadContext.Default.Resolving -= ResolveLibC;

    private static Assembly? ResolveLibC(AssemblyLoadContext context, AssemblyName name)
    {
        if (name.Name != "Tmds.LibC")
        {
            return null;
        }

        var rid = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "linux-x64",
            Architecture.Arm64 => "linux-arm64",
            var other => throw new PlatformNotSupportedException($"VdpaPS ships for x64 and arm64 Linux, not {other}."),
        };
        return context.LoadFromAssemblyPath(Path.Combine(ModuleDirectory, "runtimes", rid, "Tmds.LibC.dll"));
    }
}
