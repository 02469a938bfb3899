using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace VdpaPS.TestTools;

/// <summary>A VDUSE call that failed, with the errno the kernel gave.</summary>
public sealed class VduseException : IOException
{
    /// <summary>Creates the exception.</summary>
    public VduseException(string message, int errno)
        : base(message) => Errno = errno;

    /// <summary>The errno, or 0 when the failure was not a system call.</summary>
    public int Errno { get; }

    /// <summary>The errno's symbolic name, such as EBUSY.</summary>
    public string ErrnoName => Errno == 0 ? "" : Native.ErrnoName(Errno);
}

/// <summary>
/// A VDUSE device (a virtio device implemented in user space, linux/vduse.h API version 0) for tests:
/// <see cref="Create"/> makes one that `vdpa dev add name NAME mgmtdev vduse` can then use,
/// <see cref="StartServing"/> answers the kernel's control messages so binding it to virtio_vdpa or
/// vhost_vdpa never waits for the message timeout, and <see cref="Dispose"/> destroys it.
/// There is no data path: queues are never processed.
/// </summary>
public sealed class VduseDevice : IDisposable
{
    /// <summary>The control device the vduse module creates.</summary>
    public const string ControlPath = "/dev/vduse/control";

    private const int NameMax = 256;                 // VDUSE_NAME_MAX
    private const int DevConfigSize = 336;           // sizeof(struct vduse_dev_config), without config[]
    private const int VqConfigSize = 32;             // sizeof(struct vduse_vq_config)
    private const int RequestSize = 152;             // sizeof(struct vduse_dev_request)
    private const int ResponseSize = 152;            // sizeof(struct vduse_dev_response)
    private const ushort QueueSize = 256;

    // _IOW(VDUSE_BASE 0x81, nr, size) = 1 << 30 | size << 16 | 0x81 << 8 | nr
    private const uint SetApiVersion = 0x40088101;   // _IOW(0x81, 0x01, __u64)
    private const uint CreateDev = 0x41508102;       // _IOW(0x81, 0x02, struct vduse_dev_config)
    private const uint DestroyDev = 0x41008103;      // _IOW(0x81, 0x03, char[256])
    private const uint VqSetup = 0x40208114;         // _IOW(0x81, 0x14, struct vduse_vq_config)

    private const uint VirtioIdNet = 1;
    private const uint VirtioIdBlock = 2;
    private const int VirtioFVersion1 = 32;
    private const int VirtioFAccessPlatform = 33;    // VDUSE refuses devices without it
    private const int NetFMtu = 3;
    private const int NetFMac = 5;
    private const int NetFStatus = 16;
    private const int BlkFSegMax = 2;
    private const int BlkFBlkSize = 6;

    /// <summary>Request types of struct vduse_dev_request (enum vduse_req_type).</summary>
    public enum RequestType : uint
    {
        /// <summary>The kernel asks for a queue's state; answered with index 0.</summary>
        GetVqState = 0,
        /// <summary>The driver wrote the virtio device status.</summary>
        SetStatus = 1,
        /// <summary>The IOTLB changed.</summary>
        UpdateIotlb = 2,
    }

    private readonly object _gate = new();
    private Thread? _server;
    private volatile bool _stop;
    private int _fd = -1;
    private long _served;
    private int _lastStatus = -1;
    private bool _disposed;

    private VduseDevice(string name, string kind)
    {
        Name = name;
        Kind = kind;
    }

    /// <summary>The device's name, as in /dev/vduse/NAME and for `vdpa dev add name NAME`.</summary>
    public string Name { get; }

    /// <summary>"net" or "blk"; empty for a device this object attached to without creating it.</summary>
    public string Kind { get; }

    /// <summary>Whether the serving thread is running.</summary>
    public bool IsServing => _server is { IsAlive: true };

    /// <summary>How many control messages have been answered.</summary>
    public long RequestsServed => Interlocked.Read(ref _served);

    /// <summary>The last virtio status byte the driver set (0x0f = DRIVER_OK reached), or -1 before any.</summary>
    public int LastStatus => Volatile.Read(ref _lastStatus);

    /// <summary>Receives one line per control message answered, on the serving thread.</summary>
    public Action<string>? Log { get; set; }

    /// <summary>The last problem Dispose met (such as EBUSY), or null when it went well.</summary>
    public string? DisposeError { get; private set; }

    /// <summary>Whether the running kernel offers VDUSE (the vduse module is loaded).</summary>
    public static bool IsAvailable => File.Exists(ControlPath);

    /// <summary>Whether a VDUSE device of this name exists.</summary>
    public static bool Exists(string name) => Directory.Exists(SysfsPath(name));

    /// <summary>The names of the existing VDUSE devices.</summary>
    public static string[] List() =>
        Directory.Exists("/sys/class/vduse")
            ? Directory.GetFileSystemEntries("/sys/class/vduse").Select(Path.GetFileName)
                .Where(n => n is not null && n != "control").Select(n => n!).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>
    /// Creates a VDUSE device. A "net" device offers MAC, MTU and STATUS (link up) with one queue
    /// pair and no control queue; a "blk" device has one queue and capacity 0, so virtio_blk never
    /// sends I/O that nothing would answer. <paramref name="messageTimeoutSeconds"/> sets
    /// /sys/class/vduse/NAME/msg_timeout (kernel default 30): how long the kernel waits for a
    /// daemon's answer before it marks the device broken. Needs root (CAP_NET_ADMIN for net).
    /// </summary>
    public static VduseDevice Create(string name, string kind, string mac = "02:00:00:00:00:01", ushort mtu = 1500, int? messageTimeoutSeconds = null)
    {
        CheckName(name);
        kind = (kind ?? "").Trim().ToLowerInvariant();
        byte[] config;
        ulong features = Bit(VirtioFVersion1) | Bit(VirtioFAccessPlatform);
        uint deviceId;
        uint queues;
        switch (kind)
        {
            case "net":
                deviceId = VirtioIdNet;
                queues = 2;
                features |= Bit(NetFMac) | Bit(NetFMtu) | Bit(NetFStatus);
                if (mtu < 68)
                {
                    throw new ArgumentOutOfRangeException(nameof(mtu), mtu, "The MTU must be at least 68.");
                }
                config = NetConfig(ParseMac(mac), mtu);
                break;
            case "blk":
            case "block":
                kind = "blk";
                deviceId = VirtioIdBlock;
                queues = 1;
                features |= Bit(BlkFSegMax) | Bit(BlkFBlkSize);
                config = BlockConfig();
                break;
            default:
                throw new ArgumentException($"The kind must be 'net' or 'blk', not '{kind}'.", nameof(kind));
        }
        if (messageTimeoutSeconds is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(messageTimeoutSeconds), messageTimeoutSeconds, "The message timeout cannot be negative.");
        }

        var buffer = new byte[DevConfigSize + config.Length];
        Encoding.UTF8.GetBytes(name, buffer.AsSpan(0, NameMax));
        var s = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[256..], 0);             // vendor_id
        BinaryPrimitives.WriteUInt32LittleEndian(s[260..], deviceId);      // device_id
        BinaryPrimitives.WriteUInt64LittleEndian(s[264..], features);      // features
        BinaryPrimitives.WriteUInt32LittleEndian(s[272..], queues);        // vq_num
        BinaryPrimitives.WriteUInt32LittleEndian(s[276..], 4096);          // vq_align
        BinaryPrimitives.WriteUInt32LittleEndian(s[332..], (uint)config.Length); // config_size, after reserved[13]
        config.CopyTo(s[DevConfigSize..]);

        using (var control = OpenControl())
        {
            int errno = control.Ioctl(CreateDev, buffer);
            if (errno != 0)
            {
                throw new VduseException(errno switch
                {
                    Native.EEXIST => $"A VDUSE device named '{name}' already exists.",
                    Native.EPERM => $"Creating a VDUSE {kind} device needs root (CAP_NET_ADMIN for net).",
                    Native.EINVAL => $"The kernel rejected the configuration of VDUSE device '{name}' (EINVAL).",
                    _ => $"Creating VDUSE device '{name}' failed ({Native.Describe(errno)}).",
                }, errno);
            }
        }

        var device = new VduseDevice(name, kind);
        try
        {
            // `vdpa dev add` fails with EINVAL until every queue has a maximum size.
            int fd = OpenDevice(name);
            try
            {
                var vq = new byte[VqConfigSize];
                for (uint i = 0; i < queues; i++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(vq, i);
                    BinaryPrimitives.WriteUInt16LittleEndian(vq.AsSpan(4), QueueSize);
                    int errno = IoctlFd(fd, VqSetup, vq);
                    if (errno != 0)
                    {
                        throw new VduseException($"Setting up queue {i} of VDUSE device '{name}' failed ({Native.Describe(errno)}).", errno);
                    }
                }
            }
            finally
            {
                _ = Native.Close(fd);
            }
            if (messageTimeoutSeconds is int seconds)
            {
                SetMessageTimeout(name, seconds);
            }
        }
        catch
        {
            device.Dispose();
            throw;
        }
        return device;
    }

    /// <summary>
    /// Takes over an existing VDUSE device (created by another process, e.g. `vduse create`), to
    /// serve or destroy it.
    /// </summary>
    public static VduseDevice Attach(string name)
    {
        CheckName(name);
        if (!Exists(name))
        {
            throw new VduseException($"There is no VDUSE device named '{name}'.", Native.ENOENT);
        }
        return new VduseDevice(name, "");
    }

    /// <summary>Writes /sys/class/vduse/NAME/msg_timeout: seconds the kernel waits for an answer (0 = forever).</summary>
    public static void SetMessageTimeout(string name, int seconds)
    {
        CheckName(name);
        try
        {
            File.WriteAllText(Path.Combine(SysfsPath(name), "msg_timeout"), seconds.ToString(CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VduseException($"Setting msg_timeout of VDUSE device '{name}' failed: {e.Message}", 0);
        }
    }

    /// <summary>
    /// Destroys the VDUSE device NAME (VDUSE_DESTROY_DEV). Throws a <see cref="VduseException"/>
    /// with errno EBUSY while a vdpa device uses it or a process has /dev/vduse/NAME open.
    /// </summary>
    public static void Destroy(string name)
    {
        CheckName(name);
        var buffer = new byte[NameMax];
        Encoding.UTF8.GetBytes(name, buffer);
        using var control = OpenControl();
        int errno = control.Ioctl(DestroyDev, buffer);
        if (errno != 0)
        {
            throw new VduseException(errno switch
            {
                Native.EBUSY => $"VDUSE device '{name}' is busy (EBUSY): a vdpa device still uses it (run 'vdpa dev del' on it first) or a process has /dev/vduse/{name} open. It was not destroyed.",
                Native.EINVAL => $"There is no VDUSE device named '{name}' (EINVAL).",
                _ => $"Destroying VDUSE device '{name}' failed ({Native.Describe(errno)}).",
            }, errno);
        }
    }

    /// <summary>
    /// Starts a background thread that opens /dev/vduse/NAME and acknowledges every control
    /// message (status changes, IOTLB updates, queue state queries) at once. Only one process can
    /// have the device open: stop serving before the device is destroyed.
    /// </summary>
    public void StartServing()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsServing)
            {
                return;
            }
            _fd = OpenDevice(Name);
            Log?.Invoke($"{Name}: serving");
            _stop = false;
            _server = new Thread(Serve) { IsBackground = true, Name = $"vduse serve {Name}" };
            _server.Start();
        }
    }

    /// <summary>Stops the serving thread and closes the device file; the kernel then queues messages again.</summary>
    public void StopServing()
    {
        lock (_gate)
        {
            _stop = true;
            _server?.Join();
            _server = null;
            if (_fd >= 0)
            {
                _ = Native.Close(_fd);
                _fd = -1;
            }
        }
    }

    /// <summary>
    /// Stops serving and destroys the device. It does not throw: when the kernel answers EBUSY
    /// (a vdpa device still uses it) or anything else fails, the reason is written to standard
    /// error and kept in <see cref="DisposeError"/>, and the device stays.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        StopServing();
        try
        {
            Destroy(Name);
            DisposeError = null;
        }
        catch (VduseException e) when (e.Errno == Native.EINVAL && !Exists(Name))
        {
            DisposeError = null;   // already gone
        }
        catch (VduseException e)
        {
            DisposeError = e.Message;
            Console.Error.WriteLine($"VduseDevice.Dispose: {e.Message}");
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"VDUSE {(Kind.Length > 0 ? Kind + " " : "")}device '{Name}'{(IsServing ? $" (serving, {RequestsServed} answered)" : "")}";

    private unsafe void Serve()
    {
        var request = new byte[RequestSize];
        var response = new byte[ResponseSize];
        var pfd = new Native.PollFd { Fd = _fd, Events = Native.POLLIN };
        while (!_stop)
        {
            // A short poll keeps StopServing prompt without a wake-up file descriptor.
            int ready = Native.Poll(&pfd, 1, 100);
            if (ready < 0 && Native.LastErrno == Native.EINTR)
            {
                continue;
            }
            if (ready < 0)
            {
                Log?.Invoke($"{Name}: poll failed ({Native.Describe(Native.LastErrno)}); serving stopped");
                return;
            }
            if (ready == 0)
            {
                continue;
            }
            nint n;
            fixed (byte* p = request)
            {
                n = Native.Read(_fd, p, RequestSize);
            }
            if (n < 0)
            {
                int errno = Native.LastErrno;
                if (errno is Native.EINTR or Native.EAGAIN)
                {
                    continue;
                }
                Log?.Invoke($"{Name}: read failed ({Native.Describe(errno)}); serving stopped");
                return;
            }
            if (n != RequestSize)
            {
                continue;
            }

            var type = (RequestType)BinaryPrimitives.ReadUInt32LittleEndian(request);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(4));
            Array.Clear(response);
            BinaryPrimitives.WriteUInt32LittleEndian(response, id);
            BinaryPrimitives.WriteUInt32LittleEndian(response.AsSpan(4), 0);   // VDUSE_REQ_RESULT_OK
            string detail;
            switch (type)
            {
                case RequestType.GetVqState:
                    // vq_state: the queue index back, avail index 0 (nothing was ever consumed).
                    uint index = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(24));
                    BinaryPrimitives.WriteUInt32LittleEndian(response.AsSpan(24), index);
                    detail = $"GET_VQ_STATE queue {index}";
                    break;
                case RequestType.SetStatus:
                    byte status = request[24];
                    Volatile.Write(ref _lastStatus, status);
                    detail = $"SET_STATUS 0x{status:x2}";
                    break;
                case RequestType.UpdateIotlb:
                    ulong start = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(24));
                    ulong last = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(32));
                    detail = $"UPDATE_IOTLB 0x{start:x}-0x{last:x}";
                    break;
                default:
                    detail = $"request type {(uint)type}";
                    break;
            }
            nint written;
            fixed (byte* p = response)
            {
                written = Native.Write(_fd, p, ResponseSize);
            }
            if (written != ResponseSize)
            {
                Log?.Invoke($"{Name}: {detail} id {id}: answer failed ({Native.Describe(Native.LastErrno)})");
                continue;
            }
            Interlocked.Increment(ref _served);
            Log?.Invoke($"{Name}: {detail} id {id} -> OK");
        }
    }

    private static ulong Bit(int bit) => 1UL << bit;

    private static string SysfsPath(string name) => Path.Combine("/sys/class/vduse", name);

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) >= NameMax || name.Contains('/') || name == "control" || name == "." || name == "..")
        {
            throw new ArgumentException($"'{name}' cannot be a VDUSE device name (at most 255 bytes, no '/', not 'control').", nameof(name));
        }
    }

    // struct virtio_net_config: mac[6], status, max_virtqueue_pairs, mtu, speed, duplex, RSS fields.
    private static byte[] NetConfig(byte[] mac, ushort mtu)
    {
        var c = new byte[24];
        mac.CopyTo(c, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(6), 1);      // VIRTIO_NET_S_LINK_UP
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(8), 1);      // one queue pair
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(10), mtu);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(12), uint.MaxValue);   // speed unknown
        c[16] = 0xff;                                                   // duplex unknown
        return c;
    }

    // struct virtio_blk_config: capacity 0 sectors, seg_max 128, blk_size 512; the rest zero.
    private static byte[] BlockConfig()
    {
        var c = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(12), 128);   // seg_max
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(20), 512);   // blk_size
        return c;
    }

    private static byte[] ParseMac(string mac)
    {
        var parts = (mac ?? "").Split(':', '-');
        var bytes = new byte[6];
        if (parts.Length != 6 || !parts.Select((p, i) => p.Length is 1 or 2 && byte.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out bytes[i])).All(ok => ok))
        {
            throw new ArgumentException($"'{mac}' is not a MAC address like 02:00:00:00:00:01.", nameof(mac));
        }
        return bytes;
    }

    private static int OpenDevice(string name)
    {
        string path = "/dev/vduse/" + name;
        // devtmpfs creates the node as the device is registered; allow it a moment to appear.
        for (int attempt = 0; ; attempt++)
        {
            int fd = Native.Open(path, Native.O_RDWR | Native.O_CLOEXEC, 0);
            if (fd >= 0)
            {
                return fd;
            }
            int errno = Native.LastErrno;
            if (errno == Native.ENOENT && attempt < 20)
            {
                Thread.Sleep(50);
                continue;
            }
            throw new VduseException(errno switch
            {
                Native.EBUSY => $"{path} is open in another process (EBUSY): a VDUSE device has one server at a time.",
                Native.ENOENT => $"{path} does not exist: there is no VDUSE device named '{name}'.",
                _ => $"Opening {path} failed ({Native.Describe(errno)}).",
            }, errno);
        }
    }

    private static unsafe int IoctlFd(int fd, uint request, byte[] argument)
    {
        fixed (byte* p = argument)
        {
            return Native.Ioctl(fd, request, p) < 0 ? Native.LastErrno : 0;
        }
    }

    private static Control OpenControl()
    {
        int fd = Native.Open(ControlPath, Native.O_RDWR | Native.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Native.LastErrno;
            throw new VduseException(errno switch
            {
                Native.ENOENT => $"VDUSE is not available: {ControlPath} is missing (load the vduse module; in the lab, -m vduse).",
                Native.EACCES or Native.EPERM => $"Opening {ControlPath} needs root ({Native.ErrnoName(errno)}).",
                _ => $"Opening {ControlPath} failed ({Native.Describe(errno)}).",
            }, errno);
        }
        var control = new Control(fd);
        var version = new byte[8];   // API version 0: the layout this class speaks
        int e = control.Ioctl(SetApiVersion, version);
        if (e != 0)
        {
            control.Dispose();
            throw new VduseException($"VDUSE_SET_API_VERSION 0 failed ({Native.Describe(e)}).", e);
        }
        return control;
    }

    private sealed class Control(int fd) : IDisposable
    {
        public int Ioctl(uint request, byte[] argument) => IoctlFd(fd, request, argument);

        public void Dispose() => Native.Close(fd);
    }
}
