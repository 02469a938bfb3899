using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>
/// The device features that every piped parent supports, on this host or on many (parents returned by Invoke-Command keep
/// their PSComputerName): what a device may offer so that a VM can live-migrate between any of them.
/// </summary>
/// <remarks>
/// Parents bind by property name, so live and deserialized parents (Deserialized.VdpaPS.VdpaParent) alike work; nothing
/// asks the kernel here. The result is one object, written once every parent has arrived.
/// </remarks>
[Cmdlet(VerbsCommon.Get, "VdpaCommonFeature")]
[OutputType(typeof(VdpaCommonFeatures))]
public sealed class GetVdpaCommonFeatureCommand : PSCmdlet
{
    private readonly List<VdpaFeatureSource> _parents = [];

    /// <summary>The parent's name (a piped parent's Name).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    /// <summary>The device classes the parent creates (a piped parent's SupportedClasses).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    public VirtioDeviceClass[] SupportedClasses { get; set; } = [];

    /// <summary>The features the parent can provision (a piped parent's SupportedFeatureMask); null where its kernel does not say.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public ulong? SupportedFeatureMask { get; set; }

    /// <summary>The host the parent was read on: the PSComputerName that remoting adds to its results. Empty for this host.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("PSComputerName")]
    public string? ComputerName { get; set; }

    /// <summary>The device class to compute features for, needed only when every parent creates several classes (vduse).</summary>
    [Parameter]
    [ValidateSet(nameof(VirtioDeviceClass.Net), nameof(VirtioDeviceClass.Block), IgnoreCase = true)]
    public VirtioDeviceClass? DeviceClass { get; set; }

    protected override void ProcessRecord()
    {
        // PowerShell restores pipeline-bound parameters between records, so a local parent after a remote one has no host.
        _parents.Add(new VdpaFeatureSource(Name, string.IsNullOrEmpty(ComputerName) ? null : ComputerName, SupportedClasses, SupportedFeatureMask));
    }

    protected override void EndProcessing()
    {
        VdpaCommonFeatures? common;
        try
        {
            common = VdpaFeatureIntersection.Compute(_parents, DeviceClass);
        }
        catch (VdpaCommonFeatureException e)
        {
            // One answer for all parents together: when there is none, nothing else can be written.
            ThrowTerminatingError(VdpaErrors.FromCommonFeatures(e, _parents.Select(p => p.ToString()).ToArray()));
            return;
        }

        if (common is not null)
        {
            WriteObject(common);
        }
    }
}
