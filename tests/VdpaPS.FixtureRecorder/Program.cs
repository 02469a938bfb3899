using System.Diagnostics;
using VdpaPS;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

// Records conversations with the lab kernel's vdpa family into DIR/<name>.nlrec, and iproute2's JSON for the
// same state into DIR/<name>.iproute2.json, so the unit tests decode real bytes and compare with iproute2.
// Run as root in the lab with the simulator and virtio_vdpa loaded: `dotnet pwsh ./build.ps1 record` (6.12, into
// tests/VdpaPS.Netlink.Tests/Fixtures) or `... record -Kernel 6.1` (into Fixtures/6.1). Operations an older family
// lacks or refuses are recorded as the kernel answered them, not skipped.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: VdpaPS.FixtureRecorder OUTPUT_DIRECTORY");
    return 2;
}

var output = Directory.CreateDirectory(args[0]).FullName;
var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
const string Net = "fxnet0", Block = "fxblk0";
var recorded = new List<string>();

void Record(string name, Action<VdpaClient> conversation, string? iproute2Arguments = null)
{
    using var log = new StringWriter();
    log.WriteLine($"# {name}: recorded from Linux {kernel} by VdpaPS.FixtureRecorder");
    var transport = new RecordingTransport(NetlinkSocket.Open(), log);
    using (var client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true))
    {
        try
        {
            conversation(client);
        }
        catch (NetlinkException e)
        {
            log.WriteLine($"# expected failure: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The kernel's bytes are recorded above this line whatever the decoder made of them: an older
            // kernel's reply the client cannot read yet is a fixture worth keeping, not a reason to stop.
            log.WriteLine($"# decoding failed: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine($"{name}: decoding failed: {e.GetType().Name}: {e.Message}");
        }
    }

    File.WriteAllText(Path.Combine(output, name + ".nlrec"), log.ToString());
    if (iproute2Arguments is not null)
    {
        File.WriteAllText(Path.Combine(output, name + ".iproute2.json"), Run("vdpa", "-j " + iproute2Arguments));
    }

    recorded.Add(name);
}

static string Run(string file, string arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
    var text = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    return text;
}

// Clean up after an earlier run in the same boot.
using (var cleanup = VdpaClient.Open())
{
    foreach (var device in cleanup.GetDevices().Where(d => d.Name is Net or Block))
    {
        cleanup.DeleteDevice(device.Name);
    }
}

Record("mgmtdev-dump", c => c.GetParents(), "mgmtdev show");
Record("mgmtdev-get-vdpasim_net", c => c.GetParent("vdpasim_net"), "mgmtdev show vdpasim_net");
Record("dev-new-net", c => c.CreateDevice(new VdpaDeviceSpec
{
    Name = Net, Parent = "vdpasim_net", MacAddress = [0x02, 0, 0, 0, 0, 0x11], Mtu = 9000,
}));
Record("dev-new-block", c => c.CreateDevice(new VdpaDeviceSpec { Name = Block, Parent = "vdpasim_blk" }));
// virtio_vdpa binds asynchronously; give feature negotiation a moment before reading negotiated features.
Thread.Sleep(500);
Record("dev-dump", c => c.GetDevices(), "dev show");
Record("dev-get-net", c => c.GetDevice(Net), $"dev show {Net}");
Record("config-get-net", c => c.GetConfig(Net), $"dev config show {Net}");
Record("config-get-block", c => c.GetConfig(Block));
Record("config-dump", c => c.GetConfigs(), "dev config show");
for (uint queue = 0; queue < 3; queue++)
{
    var q = queue;
    Record($"vstats-net-q{q}", c => c.GetQueueStatistics(Net, q), $"dev vstats show {Net} qidx {q}");
}

Record("error-dev-get-unknown", c => c.GetDevice("nosuchdev"));
Record("error-dev-new-duplicate", c => c.CreateDevice(new VdpaDeviceSpec { Name = Net, Parent = "vdpasim_net" }));
Record("error-dev-new-unknown-parent", c => c.CreateDevice(new VdpaDeviceSpec { Name = "fxnew", Parent = "nosuchparent" }));
Record("error-dev-new-max-vqp", c => c.CreateDevice(new VdpaDeviceSpec { Name = "fxvqp", Parent = "vdpasim_net", MaxQueuePairs = 2 }));
Record("error-dev-new-mtu-10", c => c.CreateDevice(new VdpaDeviceSpec { Name = "fxmtu", Parent = "vdpasim_net", Mtu = 10 }));
Record("error-vstats-qidx-40000", c => c.GetQueueStatistics(Net, 40000));
// DEV_ATTR_SET came in 6.12: where the family lacks it the client refuses before sending, so the
// request goes out raw to record the kernel's own answer to an unknown command.
Record("dev-set-mac", c =>
{
    byte[] mac = [0x02, 0, 0, 0, 0, 0x22];
    if (c.Supports(VdpaCommand.DeviceAttributeSet))
    {
        c.SetMacAddress(Net, mac);
        return;
    }

    c.Connection.Execute(new GenericRequest(c.Family.Id, (byte)VdpaCommand.DeviceAttributeSet, VdpaFamily.Version, false,
        VdpaClient.OperationName(VdpaCommand.DeviceAttributeSet)), w =>
    {
        w.WriteString(VdpaAttribute.DeviceName, Net);
        w.WriteBytes(VdpaAttribute.NetConfigMacAddress, mac);
    }, null);
});
Record("dev-del-net", c => c.DeleteDevice(Net));
Record("dev-del-block", c => c.DeleteDevice(Block));

Console.WriteLine($"recorded {recorded.Count} conversations from Linux {kernel} into {output}");
return 0;
