using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using static VdpaPS.Netlink.Vdpa.VdpaAttribute;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>Every operation of the kernel's vdpa family, over one netlink connection.</summary>
internal sealed class VdpaClient : IDisposable
{
    private readonly NetlinkConnection _connection;
    private readonly bool _ownsConnection;

    // Null for a family given by the caller: then there is nothing to resolve again.
    private readonly GenericFamilyCache? _cache;

    /// <exception cref="FamilyNotFoundException">The vdpa module is not loaded, or this is not the initial network namespace.</exception>
    public VdpaClient(NetlinkConnection connection, GenericFamilyCache? cache = null, bool ownsConnection = false)
        : this(connection, (cache ?? GenericFamilyCache.Shared).Resolve(connection, VdpaFamily.Name), ownsConnection)
    {
        _cache = cache ?? GenericFamilyCache.Shared;
    }

    /// <summary>A client for a family already described (by nlctrl, or by a test standing in for an older kernel).</summary>
    public VdpaClient(NetlinkConnection connection, GenericNetlinkFamily family, bool ownsConnection = false)
    {
        _connection = connection;
        _ownsConnection = ownsConnection;
        Family = family;
        Capabilities = new VdpaFamilyCapabilities(family);
    }

    /// <summary>Opens a socket of its own and resolves the family (once per process).</summary>
    /// <param name="cancellation">Ends any wait for the kernel (a cmdlet's StopProcessing).</param>
    public static VdpaClient Open(TimeSpan? receiveTimeout = null, CancellationToken cancellation = default)
    {
        var connection = NetlinkConnection.OpenGeneric(receiveTimeout, cancellation);
        try
        {
            return new VdpaClient(connection, ownsConnection: true);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The family as nlctrl described it; resolved again when its id stops answering (the vdpa module was reloaded).</summary>
    public GenericNetlinkFamily Family { get; private set; }

    /// <summary>What this kernel's family can do and what its attributes mean (attribute 21 above all).</summary>
    public VdpaFamilyCapabilities Capabilities { get; private set; }

    public NetlinkConnection Connection => _connection;

    /// <summary>Whether this kernel's family has the command (from nlctrl's list of operations).</summary>
    public bool Supports(VdpaCommand command) => Capabilities.Supports(command);

    /// <summary>Whether this kernel knows the attribute; commands up to VSTATS_GET silently ignore the ones it does not.</summary>
    /// <remarks>vdpa registers maxattr as VDPA_ATTR_MAX, the enum entry one past its last attribute (37 on 6.12, where BLK_FLUSH is 36).</remarks>
    public bool SupportsAttribute(ushort attribute) => Capabilities.SupportsAttribute(attribute);

    public IReadOnlyList<VdpaParent> GetParents() => DumpAll(VdpaCommand.ManagementDeviceGet, VdpaDecoder.DecodeParent);

    public VdpaParent GetParent(string name) => GetOne(VdpaCommand.ManagementDeviceGet, w => WriteParent(w, name), VdpaDecoder.DecodeParent);

    /// <summary>
    /// The parent a user means: the kernel's own name, any case of it, or a bus parent's address alone (0000:00:10.0 for
    /// pci/0000:00:10.0). Null when none matches (or the address alone is ambiguous across buses).
    /// </summary>
    /// <remarks>The kernel's own name (or a PCI address in any form) is one MGMTDEV_GET; only another spelling needs the list to resolve against.</remarks>
    public VdpaParent? FindParent(string typed)
    {
        try
        {
            return GetParent(VdpaParentName.Canonical(typed));
        }
        catch (NetlinkException e) when (e.Errno is LinuxErrno.ENODEV or LinuxErrno.ENOENT)
        {
            return VdpaParentName.Resolve(typed, GetParents());
        }
    }

    public IReadOnlyList<VdpaDevice> GetDevices() => DumpAll(VdpaCommand.DeviceGet, VdpaDecoder.DecodeDevice);

    public VdpaDevice GetDevice(string name) => GetOne(VdpaCommand.DeviceGet, w => w.WriteString(DeviceName, name), VdpaDecoder.DecodeDevice);

    /// <summary>The configuration dump as the kernel sent it. Linux 6.1 ends it silently at the first block device: see <see cref="GetConfigListing"/>.</summary>
    public IReadOnlyList<VdpaDeviceConfig> GetConfigs() => DumpAll(VdpaCommand.DeviceConfigGet, a => VdpaDecoder.DecodeConfig(a, Capabilities));

    /// <summary>
    /// The configuration dump, checked against the device dump taken right after it: a device the kernel left out of
    /// the configuration dump (6.1 stops at the first block device, without an error) is named in Missing.
    /// </summary>
    public VdpaConfigListing GetConfigListing()
    {
        // The config dump comes first, so a device created in between counts as missing and is asked for, never lost.
        var configs = GetConfigs();
        var listed = configs.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var missing = GetDevices().Select(d => d.Name).Where(n => !listed.Contains(n)).ToList();
        return new VdpaConfigListing(configs, missing);
    }

    /// <exception cref="VdpaCapabilityException">A block device on a family without block configuration (before 6.9).</exception>
    public VdpaDeviceConfig GetConfig(string name)
    {
        try
        {
            return GetOne(VdpaCommand.DeviceConfigGet, w => w.WriteString(DeviceName, name), a => VdpaDecoder.DecodeConfig(a, Capabilities));
        }
        catch (NetlinkException e) when (e.Errno == LinuxErrno.EOPNOTSUPP && !Capabilities.Supports(VdpaCapability.BlockConfig))
        {
            // Asked here, not in the filter: a request in a filter would lose its own exceptions (a Ctrl+C) to the filter.
            if (IsBlockDevice(name))
            {
                throw new VdpaCapabilityException(VdpaCapability.BlockConfig, Capabilities, e.Operation, e);
            }

            throw;
        }
    }

    private bool IsBlockDevice(string name)
    {
        try
        {
            return GetDevice(name).Type == VirtioDeviceClass.Block;
        }
        catch (NetlinkException)
        {
            return false;
        }
    }

    public VdpaQueueStatistics GetQueueStatistics(string name, uint queueIndex) =>
        GetOne(VdpaCommand.DeviceVendorStatsGet, w =>
        {
            w.WriteString(DeviceName, name);
            w.WriteU32(QueueIndex, queueIndex);
        }, VdpaDecoder.DecodeQueueStatistics);

    /// <summary>Creates a device. The kernel answers with an ACK only; read the device back to see what it applied.</summary>
    /// <remarks>Sends every attribute the spec gives; <see cref="VdpaProvisioning.ForFamily"/> leaves out what this family does not know.</remarks>
    public NetlinkAcknowledgement CreateDevice(VdpaDeviceSpec spec) =>
        Execute(VdpaCommand.DeviceNew, w =>
        {
            w.WriteString(DeviceName, spec.Name);
            WriteParent(w, spec.Parent);
            foreach (var attribute in VdpaProvisioning.Given(spec))
            {
                attribute.Write(w, spec);
            }
        }, null);

    /// <summary>The attributes of <paramref name="spec"/> this kernel does not know and would drop without a word.</summary>
    public IReadOnlyList<ushort> UnknownAttributes(VdpaDeviceSpec spec) =>
        [.. VdpaProvisioning.UnknownTo(Capabilities, spec).Select(a => a.Id)];

    /// <summary>
    /// After a DEV_NEW whose wait was stopped (the kernel goes on with it: a VDUSE parent without its daemon holds it for its
    /// message timeout): waits, up to <paramref name="limit"/>, for the kernel's answer on this connection and, when the
    /// device was created after all, removes it. Runs on the caller's thread, so it is done before the caller returns.
    /// </summary>
    public VdpaStoppedCreate FinishStoppedCreate(NetlinkRequestCanceledException canceled, string name, TimeSpan limit)
    {
        using var deadline = new CancellationTokenSource(limit);
        var previous = _connection.Cancellation;
        _connection.Cancellation = deadline.Token;
        try
        {
            try
            {
                _connection.Resume(canceled, deadline.Token);
            }
            catch (NetlinkException e) when (e is not (NetlinkSocketException or NetlinkProtocolException or NetlinkTimeoutException))
            {
                return new VdpaStoppedCreate(VdpaStoppedCreateOutcome.NotCreated, e.Message); // the kernel refused it
            }

            DeleteDevice(name);
            return new VdpaStoppedCreate(VdpaStoppedCreateOutcome.Removed, null);
        }
        catch (OperationCanceledException)
        {
            return new VdpaStoppedCreate(VdpaStoppedCreateOutcome.Unknown,
                $"the kernel had not answered within {VdpaLockHolders.Seconds(limit)}");
        }
        catch (NetlinkException e)
        {
            // A receive that timed out is no refusal: the kernel may still create the device.
            return new VdpaStoppedCreate(VdpaStoppedCreateOutcome.Unknown, e.Message);
        }
        finally
        {
            _connection.Cancellation = previous;
        }
    }

    public NetlinkAcknowledgement DeleteDevice(string name) =>
        Execute(VdpaCommand.DeviceDelete, w => w.WriteString(DeviceName, name), null);

    /// <summary>DEV_ATTR_SET: the MAC address is the only attribute the kernel acts on (6.12 and later).</summary>
    public NetlinkAcknowledgement SetMacAddress(string name, byte[] macAddress) =>
        Execute(VdpaCommand.DeviceAttributeSet, w =>
        {
            w.WriteString(DeviceName, name);
            w.WriteBytes(NetConfigMacAddress, macAddress);
        }, null);

    /// <summary>Every object of one kind: a dump, restarted from an empty list when the kernel reports it was interrupted.</summary>
    private List<T> DumpAll<T>(VdpaCommand command, Decode<T> decode)
    {
        var items = new List<T>();
        WithCurrentFamily(() => _connection.ExecuteDump(Request(command, dump: true), null, items.Clear, (_, attributes) => items.Add(decode(attributes))));
        return items;
    }

    /// <summary>One object, named by the attributes <paramref name="key"/> writes: the kernel answers with one reply or refuses.</summary>
    private T GetOne<T>(VdpaCommand command, RequestAttributeWriter key, Decode<T> decode)
        where T : class
    {
        T? item = null;
        Execute(command, key, (_, attributes) => item = decode(attributes));
        return item ?? throw new NetlinkProtocolException("The kernel acknowledged the request without a reply message.", OperationName(command));
    }

    private delegate T Decode<out T>(ReadOnlySpan<byte> attributes);

    private NetlinkAcknowledgement Execute(VdpaCommand command, RequestAttributeWriter? attributes, GenericReplyHandler? onReply) =>
        WithCurrentFamily(() => _connection.Execute(Request(command, dump: false), attributes, onReply));

    /// <summary>
    /// Runs a request, and once more when the family's id stopped answering: after `modprobe -r vdpa` and `modprobe vdpa`
    /// the kernel gives the family a new id, and generic netlink answers ENOENT for the old one (the request never
    /// reached vdpa, so sending it again is safe). A family gone altogether is a FamilyNotFoundException.
    /// </summary>
    private T WithCurrentFamily<T>(Func<T> request)
    {
        try
        {
            return request();
        }
        catch (NetlinkException e) when (e.Errno == LinuxErrno.ENOENT && e is not NetlinkProtocolException && _cache is not null)
        {
            if (!ResolveFamilyAgain())
            {
                throw;
            }

            return request();
        }
    }

    /// <summary>
    /// Takes the family as the process's cache describes it now, as a new client would at its start (from nlctrl when the
    /// cache forgot it): a client kept for the next command (<see cref="VdpaClientShelf"/>) follows another client's new
    /// resolution after a reload, and the cache's test seam, without a socket of its own.
    /// </summary>
    public void RefreshFamily()
    {
        if (_cache?.Resolve(_connection, VdpaFamily.Name) is { } family && !ReferenceEquals(family, Family))
        {
            Family = family;
            Capabilities = new VdpaFamilyCapabilities(family);
        }
    }

    /// <summary>True when nlctrl now gives the family another id; false when the id is the same (the ENOENT was vdpa's own).</summary>
    private bool ResolveFamilyAgain()
    {
        _cache!.Forget(VdpaFamily.Name);
        var family = _cache.Resolve(_connection, VdpaFamily.Name);
        if (family.Id == Family.Id)
        {
            return false;
        }

        Family = family;
        Capabilities = new VdpaFamilyCapabilities(family);
        return true;
    }

    /// <summary>A request for a command this kernel's family offers; one it lacks fails here, before anything is sent.</summary>
    /// <remarks>nlctrl lists the family's operations with their do/dump flags, so an older kernel is told apart from a refusal.</remarks>
    private GenericRequest Request(VdpaCommand command, bool dump)
    {
        var operation = OperationName(command, dump);
        var request = new GenericRequest(Family.Id, (byte)command, VdpaFamily.Version, dump, operation);
        if (!Family.TryGetOperation((uint)command, out var op) ||
            (dump && (op.Flags & GenericOperationFlags.Dump) == 0) ||
            (!dump && (op.Flags & GenericOperationFlags.Do) == 0))
        {
            VdpaCapability? capability = command switch
            {
                VdpaCommand.DeviceAttributeSet => VdpaCapability.SetAttributes,
                VdpaCommand.DeviceVendorStatsGet => VdpaCapability.VendorStatistics,
                VdpaCommand.DeviceConfigGet => VdpaCapability.DeviceConfig,
                _ => null,
            };
            if (capability is { } missing && !Capabilities.Supports(missing))
            {
                throw new VdpaCapabilityException(missing, Capabilities, operation);
            }

            throw new NetlinkException(LinuxErrno.EOPNOTSUPP,
                $"{Capabilities.Summary} has no {operation[5..]}",
                null, operation) { Request = request };
        }

        return request;
    }

    public static string OperationName(VdpaCommand command, bool dump = false)
    {
        var name = command switch
        {
            VdpaCommand.ManagementDeviceGet => "MGMTDEV_GET",
            VdpaCommand.DeviceNew => "DEV_NEW",
            VdpaCommand.DeviceDelete => "DEV_DEL",
            VdpaCommand.DeviceGet => "DEV_GET",
            VdpaCommand.DeviceConfigGet => "DEV_CONFIG_GET",
            VdpaCommand.DeviceVendorStatsGet => "DEV_VSTATS_GET",
            VdpaCommand.DeviceAttributeSet => "DEV_ATTR_SET",
            _ => command.ToString(),
        };
        return dump ? $"vdpa {name} dump" : $"vdpa {name}";
    }

    /// <summary>The kernel matches a parent only when a bus name is sent exactly when the parent has one.</summary>
    private static void WriteParent(NetlinkMessageWriter w, string parent)
    {
        var (bus, device) = VdpaText.SplitParentName(parent);
        if (bus is not null)
        {
            w.WriteString(ManagementDeviceBusName, bus);
        }

        w.WriteString(ManagementDeviceDeviceName, device);
    }

    public void Dispose()
    {
        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }
}

/// <summary>What became of a device whose DEV_NEW was stopped.</summary>
internal enum VdpaStoppedCreateOutcome
{
    /// <summary>The kernel refused the DEV_NEW after all: no device was made.</summary>
    NotCreated,

    /// <summary>The kernel made the device, and it was removed.</summary>
    Removed,

    /// <summary>Not known in time (no answer, or the removal failed): the device may exist, or come later.</summary>
    Unknown,
}

/// <summary>The outcome, with the kernel's words or what went wrong.</summary>
internal sealed record VdpaStoppedCreate(VdpaStoppedCreateOutcome Outcome, string? Detail);

/// <summary>A configuration dump with the devices the kernel left out of it (named by the device dump).</summary>
internal sealed record VdpaConfigListing(IReadOnlyList<VdpaDeviceConfig> Configs, IReadOnlyList<string> Missing);
