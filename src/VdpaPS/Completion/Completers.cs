using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Completion;

/// <summary>Shared by the completers: prefix match with wildcards, quoting, and never an exception (the kernel may lack vdpa).</summary>
public abstract class VdpaCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
        var pattern = new WildcardPattern(typed + "*", WildcardOptions.IgnoreCase);
        IEnumerable<(string Name, string Tooltip)> candidates;
        try
        {
            candidates = GetCandidates(fakeBoundParameters).ToList();
        }
        catch (Exception)
        {
            // A completer that throws breaks the user's tab key; no candidates is the honest answer.
            return [];
        }

        return candidates
            .Where(c => MatchTexts(c.Name).Any(pattern.IsMatch))
            .Select(c => new CompletionResult(Quote(c.Name), c.Name, CompletionResultType.ParameterValue, c.Tooltip))
            .ToList();
    }

    protected abstract IEnumerable<(string Name, string Tooltip)> GetCandidates(IDictionary boundParameters);

    /// <summary>What the typed word is matched against; the completion is always the candidate's own name.</summary>
    protected virtual IEnumerable<string> MatchTexts(string name) => [name];

    private static string Quote(string value) =>
        value.IndexOfAny([' ', '\'', '"', '$', '`', '(', ')', '{', '}', ';', ',', '@', '&', '|', '#']) >= 0
            ? "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'"
            : value;
}

public sealed class ParentNameCompleter : VdpaCompleter
{
    protected override IEnumerable<(string, string)> GetCandidates(IDictionary boundParameters)
    {
        using var client = VdpaClient.Open(TimeSpan.FromSeconds(2));
        return client.GetParents().Select(p => (p.Name, $"{p.Name}: {string.Join(", ", p.SupportedClasses)}")).ToList();
    }

    /// <summary>A bus parent also completes from its address alone: 0000:00:1 and 00:1 offer pci/0000:00:10.0.</summary>
    protected override IEnumerable<string> MatchTexts(string name) => VdpaParentName.Spellings(name);
}

public sealed class DeviceNameCompleter : VdpaCompleter
{
    protected override IEnumerable<(string, string)> GetCandidates(IDictionary boundParameters)
    {
        using var client = VdpaClient.Open(TimeSpan.FromSeconds(2));
        return client.GetDevices().Select(d => (d.Name, $"{d.Name}: {d.Type} on {d.Parent}")).ToList();
    }
}

/// <summary>Feature names for the class of the -Parent given so far (net when none is).</summary>
public sealed class FeatureNameCompleter : VdpaCompleter
{
    protected override IEnumerable<(string, string)> GetCandidates(IDictionary boundParameters)
    {
        var deviceClass = VirtioDeviceClass.Net;
        if (boundParameters["Parent"] is string parent)
        {
            using var client = VdpaClient.Open(TimeSpan.FromSeconds(2));
            var classes = client.FindParent(parent)?.SupportedClasses ?? [];
            deviceClass = classes.Length == 1 ? classes[0] : VirtioDeviceClass.Net;
        }

        return VirtioFeatures.GetKnownNames(deviceClass).Select(n => (n, $"{n} ({deviceClass})")).ToList();
    }
}

/// <summary>PCI addresses of the functions that can make SR-IOV VFs; 01:00 matches without the domain.</summary>
public sealed class PhysicalFunctionCompleter : VdpaCompleter
{
    protected override IEnumerable<(string, string)> GetCandidates(IDictionary boundParameters) =>
        VdpaSriov.Default.GetPhysicalFunctions()
            .Select(p => (p.PciAddress, $"{p.PciAddress}: {p.Driver ?? "no driver"}, {p.VfCount} of {p.TotalVfs} VFs")).ToList();

    protected override IEnumerable<string> MatchTexts(string name) => [name, name[(name.IndexOf(':') + 1)..]];
}

/// <summary>PCI drivers for -VfDriver: the vDPA-capable ones first (loaded or not), then every PCI driver loaded now.</summary>
public sealed class PciDriverCompleter : VdpaCompleter
{
    /// <summary>PCI drivers whose functions become vDPA parents (vp_vdpa's driver is vp-vdpa).</summary>
    internal static readonly string[] VdpaDrivers = ["vp-vdpa", "mlx5_core", "ifcvf", "octep_vdpa", "pds_vdpa", "alibaba-eni-vdpa"];

    protected override IEnumerable<(string, string)> GetCandidates(IDictionary boundParameters)
    {
        var loaded = VdpaSriov.Default.GetDriverNames();
        return VdpaDrivers.Select(d => (d, loaded.Contains(d) ? $"{d}: vDPA-capable, loaded" : $"{d}: vDPA-capable, not loaded"))
            .Concat(loaded.Except(VdpaDrivers).Select(d => (d, $"{d}: PCI driver, loaded")))
            .ToList();
    }
}
