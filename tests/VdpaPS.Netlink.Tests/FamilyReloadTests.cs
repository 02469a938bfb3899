using System.Buffers.Binary;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// After `modprobe -r vdpa` and `modprobe vdpa` the kernel gives the family a new id, and generic netlink answers ENOENT
/// for the old one (genl_rcv_msg: no family with that id). The client resolves the family again, once, and retries.
/// The kernel here is a script with the uAPI's layouts (nlctrl CTRL_CMD_NEWFAMILY attributes, NLMSG_ERROR, NLMSG_DONE);
/// the lab's Lifecycle.Tests reloads the real modules.
/// </summary>
public sealed class FamilyReloadTests
{
    [Fact]
    public void ARequestToAStaleFamilyIdIsRetriedOnceWithTheNewId()
    {
        var kernel = new ScriptedKernel { FamilyId = 0x23 };
        using var connection = new NetlinkConnection(kernel);
        using var client = new VdpaClient(connection, new GenericFamilyCache());
        Assert.Equal(0x23, client.Family.Id);

        kernel.FamilyId = 0x24; // the module was reloaded
        Assert.Empty(client.GetDevices());

        Assert.Equal(0x24, client.Family.Id);
        Assert.Equal([0x10, 0x23, 0x10, 0x24], kernel.RequestTypes);
    }

    [Fact]
    public void AFamilyGoneAltogetherIsFamilyNotFound()
    {
        var kernel = new ScriptedKernel { FamilyId = 0x23 };
        using var connection = new NetlinkConnection(kernel);
        using var client = new VdpaClient(connection, new GenericFamilyCache());

        kernel.FamilyId = 0; // unloaded, not loaded again
        Assert.Throws<FamilyNotFoundException>(() => client.GetDevices());
        Assert.Equal([0x10, 0x23, 0x10], kernel.RequestTypes);
    }

    [Fact]
    public void AnENOENTFromTheSameFamilyIsTheKernelsAnswerAndIsNotRetried()
    {
        var kernel = new ScriptedKernel { FamilyId = 0x23, RefuseVdpaWith = LinuxErrno.ENOENT };
        using var connection = new NetlinkConnection(kernel);
        using var client = new VdpaClient(connection, new GenericFamilyCache());

        var e = Assert.Throws<NetlinkException>(() => client.GetDevices());
        Assert.Equal(LinuxErrno.ENOENT, e.Errno);
        Assert.IsNotType<FamilyNotFoundException>(e);
        Assert.Equal([0x10, 0x23, 0x10], kernel.RequestTypes);
    }

    /// <summary>nlctrl and a vdpa family whose id the test changes; a request to any other id gets ENOENT.</summary>
    private sealed class ScriptedKernel : INetlinkTransport
    {
        private readonly Queue<byte[]> _replies = new();

        /// <summary>The vdpa family's id now; 0 when the module is not loaded.</summary>
        public ushort FamilyId { get; set; }

        public int RefuseVdpaWith { get; init; }

        public List<ushort> RequestTypes { get; } = [];

        public uint PortId => 4242;

        public void Send(ReadOnlySpan<byte> datagram)
        {
            var type = BinaryPrimitives.ReadUInt16LittleEndian(datagram[4..]);
            var sequence = BinaryPrimitives.ReadUInt32LittleEndian(datagram[8..]);
            RequestTypes.Add(type);
            if (type == GenericNetlinkController.FamilyId)
            {
                if (FamilyId == 0)
                {
                    _replies.Enqueue(CancellationTests.Ack(sequence, PortId, -LinuxErrno.ENOENT));
                    return;
                }

                _replies.Enqueue(FamilyDescription(sequence));
                _replies.Enqueue(CancellationTests.Ack(sequence, PortId));
            }
            else if (type == FamilyId && FamilyId != 0 && RefuseVdpaWith == 0)
            {
                // An empty dump: NLMSG_DONE with error 0.
                var done = new byte[20];
                BinaryPrimitives.WriteUInt32LittleEndian(done, 20);
                BinaryPrimitives.WriteUInt16LittleEndian(done.AsSpan(4), NetlinkConstants.MessageTypeDone);
                BinaryPrimitives.WriteUInt16LittleEndian(done.AsSpan(6), NetlinkConstants.FlagMulti);
                BinaryPrimitives.WriteUInt32LittleEndian(done.AsSpan(8), sequence);
                BinaryPrimitives.WriteUInt32LittleEndian(done.AsSpan(12), PortId);
                _replies.Enqueue(done);
            }
            else
            {
                _replies.Enqueue(CancellationTests.Ack(sequence, PortId, -(RefuseVdpaWith == 0 ? LinuxErrno.ENOENT : RefuseVdpaWith)));
            }
        }

        private byte[] FamilyDescription(uint sequence)
        {
            var w = new NetlinkMessageWriter();
            w.BeginGeneric(GenericNetlinkController.FamilyId, 0, 1, 2); // CTRL_CMD_NEWFAMILY
            w.WriteU16(1, FamilyId);      // CTRL_ATTR_FAMILY_ID
            w.WriteString(2, "vdpa");     // CTRL_ATTR_FAMILY_NAME
            w.WriteU32(3, 1);             // CTRL_ATTR_VERSION
            w.WriteU32(4, 0);             // CTRL_ATTR_HDRSIZE
            w.WriteU32(5, 37);            // CTRL_ATTR_MAXATTR (6.12's VDPA_ATTR_MAX)
            var ops = w.BeginNested(6);   // CTRL_ATTR_OPS: an array of nests
            var index = 1;
            foreach (var command in Enum.GetValues<VdpaCommand>().Where(c => c != VdpaCommand.Unspecified))
            {
                var op = w.BeginNested((ushort)index++);
                w.WriteU32(1, (uint)command);                                                                  // CTRL_ATTR_OP_ID
                w.WriteU32(2, (uint)(GenericOperationFlags.Do | GenericOperationFlags.Dump | GenericOperationFlags.AdminPermission)); // CTRL_ATTR_OP_FLAGS
                w.EndNested(op);
            }

            w.EndNested(ops);
            w.Finish(sequence, PortId);
            return w.Written.ToArray();
        }

        public int Receive(ref byte[] buffer)
        {
            var reply = _replies.Dequeue();
            reply.CopyTo(buffer, 0);
            return reply.Length;
        }

        public void Dispose()
        {
        }
    }
}
