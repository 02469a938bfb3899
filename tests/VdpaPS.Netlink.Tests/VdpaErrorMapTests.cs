using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The error map on the refusals recorded from the lab's kernels (Fixtures/error-*, and 6.1's own answers): the request's
/// command, errno and extended ack decide the kind, and the message names what the user asked about.
/// </summary>
public sealed class VdpaErrorMapTests
{
    [Theory]
    [InlineData("error-dev-get-unknown", VdpaErrorKind.DeviceNotFound, "There is no vDPA device 'nosuchdev': the kernel said \"vdpa: device not found\" (ENODEV")]
    [InlineData("error-dev-new-duplicate", VdpaErrorKind.DeviceExists, "A vDPA device named 'fxnet0' already exists: the kernel answered EEXIST")]
    [InlineData("error-dev-new-unknown-parent", VdpaErrorKind.ParentNotFound, "There is no parent (management device) 'nosuchparent': the kernel said \"vdpa: Fail to find")]
    [InlineData("error-dev-new-max-vqp", VdpaErrorKind.AttributeNotSupported, "Parent 'vdpasim_net' does not accept -MaxQueuePairs: the kernel said \"vdpa: Some provided")]
    [InlineData("error-dev-new-mtu-10", VdpaErrorKind.ValueOutOfRange, "vdpa DEV_NEW failed for vDPA device 'fxmtu': the kernel said \"integer out of range\" (ERANGE")]
    [InlineData("error-vstats-qidx-40000", VdpaErrorKind.QueueIndexOutOfRange, "vDPA device 'fxnet0' has no queue 40000: the kernel said \"vdpa: queue index exceeds")]
    [InlineData("6.1/error-dev-new-max-vqp", VdpaErrorKind.AttributeNotSupported, "Parent 'vdpasim_net' does not accept -MaxQueuePairs: the kernel said \"vdpa: All provided")]
    [InlineData("6.1/error-vstats-qidx-40000", VdpaErrorKind.QueueIndexOutOfRange, "vDPA device 'fxnet0' has no queue 40000: the kernel said \"vdpa: queue index excceeds")]
    [InlineData("6.1/error-dev-new-unknown-parent", VdpaErrorKind.ParentNotFound, "There is no parent (management device) 'nosuchparent'")]
    [InlineData("6.1/vstats-net-q0", VdpaErrorKind.NotSupported, "vDPA device 'fxnet0' does not report queue statistics: the kernel answered EOPNOTSUPP")]
    [InlineData("6.1/dev-set-mac", VdpaErrorKind.NotSupportedByKernel, "vDPA device 'fxnet0': Changing a device's MAC address after creation needs DEV_ATTR_SET, which came in Linux 6.12")]
    public void RecordedRefusalsReadInTheUsersWords(string fixture, VdpaErrorKind kind, string message)
    {
        var (kernel, target) = Refusal(fixture);

        var explained = VdpaErrorMap.Explain(kernel, target, VdpaTargetKind.Device);

        Assert.Equal(kind, explained.Kind);
        Assert.StartsWith(message, explained.Message, StringComparison.Ordinal);
        // What the user catches keeps the kernel's answer: the same errno and text, and the raw exception inside.
        Assert.Same(kernel, explained.InnerException);
        Assert.Equal(kernel.Errno, explained.Errno);
        Assert.Equal(kernel.ExtAckMessage, explained.ExtAckMessage);
        Assert.Same(explained, VdpaErrorMap.Explain(explained, target, VdpaTargetKind.Device));
    }

    [Theory]
    [InlineData("error-dev-get-unknown", (byte)VdpaCommand.DeviceGet)]
    [InlineData("error-dev-new-unknown-parent", (byte)VdpaCommand.DeviceNew)]
    [InlineData("error-vstats-qidx-40000", (byte)VdpaCommand.DeviceVendorStatsGet)]
    public void ARefusalCarriesItsTypedRequest(string fixture, byte command)
    {
        var (kernel, _) = Refusal(fixture);

        var request = Assert.NotNull(kernel.Request);
        Assert.Equal(command, request.Command);
        Assert.False(request.Dump);
        Assert.NotEqual(GenericNetlinkController.FamilyId, request.Family);
    }

    [Fact]
    public void TheSameErrnoMeansTheDeviceOrTheParentByCommand()
    {
        var (get, _) = Refusal("error-dev-get-unknown");
        var (create, _) = Refusal("error-dev-new-unknown-parent");
        Assert.Equal(get.Errno, create.Errno);

        Assert.Equal(VdpaErrorKind.DeviceNotFound, VdpaErrorMap.Classify(get, VdpaTargetKind.Device));
        Assert.Equal(VdpaErrorKind.ParentNotFound, VdpaErrorMap.Classify(create, VdpaTargetKind.Device));
        Assert.Equal(VdpaErrorKind.ParentNotFound, VdpaErrorMap.Classify(get, VdpaTargetKind.Parent));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void ARefusalWithoutANameReadsAsASentence(string? name)
    {
        var (missing, _) = Refusal("error-dev-get-unknown");
        var (duplicate, _) = Refusal("error-dev-new-duplicate");
        var (queue, _) = Refusal("error-vstats-qidx-40000");

        Assert.StartsWith("There is no such vDPA device: the kernel said", VdpaErrorMap.Explain(missing, name, VdpaTargetKind.Device).Message, StringComparison.Ordinal);
        Assert.StartsWith("A vDPA device of that name already exists:", VdpaErrorMap.Explain(duplicate, name, VdpaTargetKind.Device).Message, StringComparison.Ordinal);
        Assert.StartsWith("The vDPA device has no queue of that index:", VdpaErrorMap.Explain(queue, name, VdpaTargetKind.Device).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAcknowledgedChangeWithOnlyAWarningIsNotApplied()
    {
        var e = VdpaErrorMap.WarnedInsteadOfApplied(VdpaCommand.DeviceAttributeSet, "fxblk0", "The MAC address", "vdpa: block device not supported");

        Assert.Equal(VdpaErrorKind.AttributeNotApplied, e.Kind);
        Assert.Equal("vdpa DEV_ATTR_SET", e.Operation);
        Assert.Equal("The MAC address of vDPA device 'fxblk0' was not changed: the kernel answered success with the warning \"vdpa: block device not supported\".",
            e.Message);
    }

    /// <summary>Replays a recorded refusal: the request the recording made, the exception the client throws, and what the request named.</summary>
    private static (NetlinkException Kernel, object Target) Refusal(string fixture)
    {
        var name = Path.GetFileName(fixture);
        var transport = new ReplayTransport(NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture + ".nlrec"))))
        {
            // 6.1 has no DEV_ATTR_SET: the client refuses before sending, and the recorded raw request stays unread.
            RequireAllConsumed = name != "dev-set-mac",
        };
        using var client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
        VdpaDeviceSpec Spec(string device, string parent, ushort? pairs = null, ushort? mtu = null) =>
            new() { Name = device, Parent = parent, MaxQueuePairs = pairs, Mtu = mtu };
        var (request, target) = name switch
        {
            "error-dev-get-unknown" => (() => client.GetDevice("nosuchdev"), "nosuchdev"),
            "error-dev-new-duplicate" => CreateAction(client, Spec("fxnet0", "vdpasim_net")),
            "error-dev-new-unknown-parent" => CreateAction(client, Spec("fxnew", "nosuchparent")),
            "error-dev-new-max-vqp" => CreateAction(client, Spec("fxvqp", "vdpasim_net", pairs: 2)),
            "error-dev-new-mtu-10" => CreateAction(client, Spec("fxmtu", "vdpasim_net", mtu: 10)),
            "error-vstats-qidx-40000" => (() => client.GetQueueStatistics("fxnet0", 40000), new VdpaQueueTarget("fxnet0", 40000)),
            "vstats-net-q0" => (() => client.GetQueueStatistics("fxnet0", 0), new VdpaQueueTarget("fxnet0", 0)),
            "dev-set-mac" => (() => client.SetMacAddress("fxnet0", [2, 0, 0, 0, 0, 0x22]), "fxnet0"),
            _ => throw new ArgumentOutOfRangeException(nameof(fixture)),
        };
        return (Assert.ThrowsAny<NetlinkException>(() => request()), target);
    }

    private static (Func<object>, object) CreateAction(VdpaClient client, VdpaDeviceSpec spec) => (() => client.CreateDevice(spec), spec);
}
