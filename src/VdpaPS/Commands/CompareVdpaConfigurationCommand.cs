using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>One object per difference between a configuration file and the host; nothing when the host matches.</summary>
[Cmdlet(VerbsData.Compare, "VdpaConfiguration")]
[OutputType(typeof(VdpaConfigurationDifference))]
public sealed class CompareVdpaConfigurationCommand : VdpaConfigurationCmdlet
{
    /// <summary>The configuration file.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    protected override void ProcessRecord()
    {
        var configuration = ReadConfiguration(ResolveFilePath(Path));
        WriteObject(ComparePhysicalFunctions(configuration), enumerateCollection: true);
        WriteObject(VdpaConfigurationDiff.Compute(configuration, ReadHost(), MacSettable), enumerateCollection: true);
    }
}
