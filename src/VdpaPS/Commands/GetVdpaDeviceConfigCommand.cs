using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>The configuration of vDPA devices, decoded: net (MAC, link, MTU, queue pairs) or block, with features as names.</summary>
[Cmdlet(VerbsCommon.Get, "VdpaDeviceConfig")]
[OutputType(typeof(VdpaNetDeviceConfig), typeof(VdpaBlockDeviceConfig))]
public sealed class GetVdpaDeviceConfigCommand : VdpaCmdlet
{
    /// <summary>Device names; wildcards allowed; every device when left out. Bound from piped devices by their Name.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        VdpaConfigListing? listing = null;
        foreach (var config in ResolveNames(Name, AskConfig, filter =>
                 {
                     listing = DumpOrStop($"Listing the configuration of every vDPA device (DEV_CONFIG_GET dump, then DEV_GET dump to check it is complete).",
                         c => c.GetConfigListing(), VdpaTargetKind.Device);
                     return SelectByName(listing.Configs, c => c.Name, filter, VdpaTargetKind.Device);
                 }))
        {
            WriteObject(config);
        }

        if (listing is null)
        {
            return;
        }

        // A dump the kernel ended early is no complete answer: say so, and ask for each device it left out.
        var patterns = Name?.Select(n => NamePattern(n, VdpaTargetKind.Device)).ToArray();
        var missing = listing.Missing.Where(n => patterns is null || Array.Exists(patterns, p => p.IsMatch(n))).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        WriteWarning(VdpaErrors.DumpIncompleteWarning("DEV_CONFIG_GET", missing));
        foreach (var name in missing)
        {
            if (AskConfig(name) is { } config)
            {
                WriteObject(config);
            }
        }
    }

    private VdpaDeviceConfig? AskConfig(string name) =>
        AskOne($"Reading the configuration of vDPA device '{name}' (DEV_CONFIG_GET DEV_NAME={name}).", c => c.GetConfig(name), name, VdpaTargetKind.Device);
}
