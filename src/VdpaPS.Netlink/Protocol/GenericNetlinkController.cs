using System.Collections.Concurrent;

namespace VdpaPS.Netlink.Protocol;

[Flags]
internal enum GenericOperationFlags : uint
{
    None = 0,
    AdminPermission = 0x01,
    Do = 0x02,
    Dump = 0x04,
    HasPolicy = 0x08,
    UserNamespaceAdminPermission = 0x10,
}

/// <summary>One command a family offers, with what it allows (do, dump) and the privilege it needs.</summary>
internal readonly record struct GenericOperation(uint Command, GenericOperationFlags Flags);

internal readonly record struct GenericMulticastGroup(string Name, uint Id);

/// <summary>A generic netlink family as the kernel's controller (nlctrl) describes it.</summary>
internal sealed record GenericNetlinkFamily(
    string Name,
    ushort Id,
    uint Version,
    uint HeaderSize,
    uint MaxAttribute,
    IReadOnlyList<GenericOperation> Operations,
    IReadOnlyList<GenericMulticastGroup> MulticastGroups)
{
    public bool TryGetOperation(uint command, out GenericOperation operation)
    {
        foreach (var op in Operations)
        {
            if (op.Command == command)
            {
                operation = op;
                return true;
            }
        }

        operation = default;
        return false;
    }
}

/// <summary>Queries the generic netlink controller ("nlctrl", family id 0x10).</summary>
internal static class GenericNetlinkController
{
    public const ushort FamilyId = 0x10;
    private const byte CommandGetFamily = 3;
    private const ushort AttributeFamilyId = 1;
    private const ushort AttributeFamilyName = 2;
    private const ushort AttributeVersion = 3;
    private const ushort AttributeHeaderSize = 4;
    private const ushort AttributeMaxAttribute = 5;
    private const ushort AttributeOperations = 6;
    private const ushort AttributeMulticastGroups = 7;
    private const ushort AttributeOperationId = 1;
    private const ushort AttributeOperationFlags = 2;
    private const ushort AttributeGroupName = 1;
    private const ushort AttributeGroupId = 2;

    /// <summary>Looks a family up by name.</summary>
    /// <exception cref="FamilyNotFoundException">No such family: its kernel module is not loaded (or this is not the initial network namespace, for families like vdpa that are not netns-aware).</exception>
    public static GenericNetlinkFamily GetFamily(NetlinkConnection connection, string name)
    {
        GenericNetlinkFamily? family = null;
        try
        {
            connection.Execute(
                new GenericRequest(FamilyId, CommandGetFamily, 1, Dump: false, "nlctrl GETFAMILY"),
                w => w.WriteString(AttributeFamilyName, name),
                (_, attributes) => family = Decode(attributes));
        }
        catch (NetlinkException e) when (e.Errno == LinuxErrno.ENOENT && e is not NetlinkProtocolException)
        {
            throw new FamilyNotFoundException(name, e.Errno);
        }

        return family ?? throw new NetlinkProtocolException($"nlctrl acknowledged the lookup of '{name}' without describing it.", "nlctrl GETFAMILY");
    }

    /// <summary>Every family the kernel has registered, in the kernel's order.</summary>
    public static IReadOnlyList<GenericNetlinkFamily> ListFamilies(NetlinkConnection connection)
    {
        var families = new List<GenericNetlinkFamily>();
        connection.ExecuteDump(
            new GenericRequest(FamilyId, CommandGetFamily, 1, Dump: true, "nlctrl GETFAMILY dump"),
            attributes: null,
            restart: families.Clear,
            (_, attributes) => families.Add(Decode(attributes)));
        return families;
    }

    public static GenericNetlinkFamily Decode(ReadOnlySpan<byte> attributes)
    {
        string? name = null;
        ushort id = 0;
        uint version = 0, headerSize = 0, maxAttribute = 0;
        var operations = new List<GenericOperation>();
        var groups = new List<GenericMulticastGroup>();
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case AttributeFamilyId: id = attribute.GetU16(); break;
                case AttributeFamilyName: name = attribute.GetString(); break;
                case AttributeVersion: version = attribute.GetU32(); break;
                case AttributeHeaderSize: headerSize = attribute.GetU32(); break;
                case AttributeMaxAttribute: maxAttribute = attribute.GetU32(); break;
                case AttributeOperations:
                    // An array: each entry is a nest whose type is its index.
                    var ops = attribute.GetNested();
                    while (ops.TryRead(out var entry))
                    {
                        uint command = 0, flags = 0;
                        var fields = entry.GetNested();
                        while (fields.TryRead(out var field))
                        {
                            if (field.Type == AttributeOperationId) { command = field.GetU32(); }
                            else if (field.Type == AttributeOperationFlags) { flags = field.GetU32(); }
                        }

                        operations.Add(new GenericOperation(command, (GenericOperationFlags)flags));
                    }

                    break;
                case AttributeMulticastGroups:
                    var list = attribute.GetNested();
                    while (list.TryRead(out var entry))
                    {
                        string groupName = string.Empty;
                        uint groupId = 0;
                        var fields = entry.GetNested();
                        while (fields.TryRead(out var field))
                        {
                            if (field.Type == AttributeGroupName) { groupName = field.GetString(); }
                            else if (field.Type == AttributeGroupId) { groupId = field.GetU32(); }
                        }

                        groups.Add(new GenericMulticastGroup(groupName, groupId));
                    }

                    break;
            }
        }

        if (name is null || id == 0)
        {
            throw new NetlinkProtocolException("A family description lacks its name or id.", "nlctrl GETFAMILY");
        }

        return new GenericNetlinkFamily(name, id, version, headerSize, maxAttribute, operations, groups);
    }
}

/// <summary>Family descriptions resolved once per process: the id of a family does not change while its module stays loaded.</summary>
internal sealed class GenericFamilyCache
{
    private readonly ConcurrentDictionary<string, GenericNetlinkFamily> _families = new(StringComparer.Ordinal);

    public static GenericFamilyCache Shared { get; } = new();

    /// <summary>The family, from the cache or from nlctrl. A failed lookup is not cached, so loading the module later is seen.</summary>
    public GenericNetlinkFamily Resolve(NetlinkConnection connection, string name) =>
        _families.TryGetValue(name, out var family) ? family : _families.GetOrAdd(name, GenericNetlinkController.GetFamily(connection, name));

    /// <summary>Forgets a family, for when its id stopped answering (the module was reloaded).</summary>
    public void Forget(string name) => _families.TryRemove(name, out _);

    /// <summary>
    /// The test seam: the next clients take this description of the family instead of nlctrl's, so a test stands a
    /// running kernel in for an older one (a lower maxattr) on the product's real path. Internal: reached by the xUnit
    /// project and, through reflection, by the lab's tests; <see cref="Forget"/> returns to nlctrl's description.
    /// </summary>
    internal void Remember(GenericNetlinkFamily family) => _families[family.Name] = family;
}
