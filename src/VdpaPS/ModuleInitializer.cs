using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace VdpaPS;

/// <summary>
/// Runs when the module is imported: refuses other systems, loads Tmds.LibC for this machine's architecture, and gives
/// the types whose objects hold objects their serialization depth.
/// </summary>
/// <remarks>Tmds.LibC ships one assembly per Linux runtime, and PowerShell's module loader does not look in runtimes/ folders.</remarks>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string ModuleDirectory = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;

    // Serialized one level deeper than PowerShell's default (jobs, remoting, Export-Clixml), so what they hold comes back
    // as objects, not strings: a queue's counters; the parents of common features and, below them, their feature names;
    // a physical function's VFs and, below them, their devices; a migration check's reasons, with their kinds.
    private static readonly (string Type, int Depth)[] SerializationDepths =
        [("VdpaPS.VdpaQueueStatistics", 2), ("VdpaPS.VdpaCommonFeatures", 3), ("VdpaPS.VdpaPhysicalFunction", 3), ("VdpaPS.VdpaMigrationCheck", 3)];

    public void OnImport()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            throw new PlatformNotSupportedException("VdpaPS manages Linux vDPA devices through netlink and runs only on Linux.");
        }

        AssemblyLoadContext.Default.Resolving += ResolveLibC;
        AddSerializationDepths();
    }

    public void OnRemove(PSModuleInfo module) => AssemblyLoadContext.Default.Resolving -= ResolveLibC;

    /// <summary>
    /// The session's type table takes the entries directly (TypeTable.AddType, a few dictionary entries). A types file,
    /// or Update-TypeData, would rebuild the whole table from every type file of the session: in a fresh pwsh that was
    /// most of the import's time. PowerShell offers no public way to the session's table, so it is reached by reflection,
    /// and Update-TypeData is the fallback when that fails.
    /// </summary>
    private static void AddSerializationDepths()
    {
        var entries = SerializationDepths.Select(e => new TypeData(e.Type) { SerializationDepth = (uint)e.Depth }).ToArray();
        if (SessionTypeTable() is { } table)
        {
            try
            {
                foreach (var entry in entries)
                {
                    try
                    {
                        table.AddType(entry);
                    }
                    catch (RuntimeException)
                    {
                        // Imported again (-Force): the entry is there already, and is replaced.
                        table.RemoveType(entry.TypeName);
                        table.AddType(entry);
                    }
                }

                return;
            }
            catch (Exception e) when (e is InvalidOperationException or RuntimeException)
            {
                // A shared type table (a runspace opened with one) is read-only: the session's cmdlet updates it.
            }
        }

        using var update = PowerShell.Create(RunspaceMode.CurrentRunspace);
        update.AddCommand("Microsoft.PowerShell.Utility\\Update-TypeData").AddParameter("TypeData", entries).AddParameter("Force").Invoke();
    }

    /// <summary>The importing runspace's type table (ExecutionContext.TypeTable, both internal), or null where PowerShell has them otherwise.</summary>
    private static TypeTable? SessionTypeTable()
    {
        const BindingFlags Internal = BindingFlags.Instance | BindingFlags.NonPublic;
        var runspace = Runspace.DefaultRunspace;
        var context = runspace?.GetType().GetProperty("ExecutionContext", Internal)?.GetValue(runspace);
        return context?.GetType().GetProperty("TypeTable", Internal)?.GetValue(context) as TypeTable;
    }

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
