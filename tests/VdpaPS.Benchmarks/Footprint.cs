using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Benchmarks;

/// <summary>
/// What each operation allocates against what the objects it returns weigh: the target is that decoding allocates
/// nothing beyond its result. Objects a second call returns again (the static feature-name strings) are not counted.
/// </summary>
internal static class Footprint
{
    public static string Run()
    {
        var decode = new DecodeBenchmarks();
        decode.Setup();
        var encode = new EncodeBenchmarks();
        encode.Setup();
        var requests = new RequestBenchmarks();
        requests.Setup();
        var dump2 = new DumpBenchmarks { Devices = 2 };
        dump2.Setup();
        var dump256 = new DumpBenchmarks { Devices = 256 };
        dump256.Setup();
        var client2 = dump2.Client;
        var client256 = dump256.Client;

        // The connection alone, with the request and its delegates made once: what is left is the connection's own cost.
        var connection = requests.Client.Connection;
        var devGet = new GenericRequest(requests.Client.Family.Id, (byte)VdpaCommand.DeviceGet, VdpaFamily.Version, Dump: false, "vdpa DEV_GET");
        RequestAttributeWriter writeName = static w => w.WriteString(VdpaAttribute.DeviceName, "fxnet0");
        GenericReplyHandler ignore = static (_, _) => { };

        var cases = new (string Name, Func<object?> Run)[]
        {
            ("NetlinkConnection.Execute, DEV_GET (delegates made once)", () => connection.Execute(devGet, writeName, ignore).ReplyCount > 0 ? null : connection),
            ("DEV_NEW request (writer)", () => { encode.DevNewRequest(); return null; }),
            ("DEV_GET request (writer)", () => { encode.DevGetRequest(); return null; }),
            ("DecodeParent", decode.DecodeParent),
            ("DecodeDevice", decode.DecodeDevice),
            ("DecodeConfig (net)", decode.DecodeConfigNet),
            ("DecodeConfig (block)", decode.DecodeConfigBlock),
            ("DecodeQueueStatistics", decode.DecodeQueueStatistics),
            ("VdpaClient.CreateDevice (DEV_NEW + ACK)", () => { requests.CreateDevice(); return null; }),
            ("VdpaClient.GetDevice (DEV_GET + reply)", requests.GetDevice),
            ("VdpaClient.GetDevices, 2 devices", client2.GetDevices),
            ("VdpaClient.GetDevices, 256 devices", client256.GetDevices),
        };

        var text = new StringBuilder();
        text.AppendLine("| Operation | Allocated (B) | Returned objects (B) | Beyond them (B) | What is returned |");
        text.AppendLine("| --- | ---: | ---: | ---: | --- |");
        foreach (var (name, run) in cases)
        {
            var allocated = MeasureAllocation(run);
            var shared = Collect(run());
            var fresh = Collect(run()).Where(o => !shared.Contains(o)).ToList();
            var returned = fresh.Sum(SizeOf);
            var what = string.Join(", ", fresh.GroupBy(TypeName).OrderByDescending(g => g.Sum(SizeOf))
                .Select(g => $"{g.Count()} {g.Key} {g.Sum(SizeOf)}"));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {allocated} | {returned} | {allocated - returned} | {(what.Length == 0 ? "nothing on the heap" : what)} |");
        }

        requests.Cleanup();
        dump2.Cleanup();
        dump256.Cleanup();
        return text.ToString();
    }

    /// <summary>Bytes one call allocates on this thread once warm (static constructors run, methods tiered up); the least of a few calls.</summary>
    /// <remarks>Tier-1 code can keep some boxes off the heap that tier-0 code allocates; the pauses give the tiering thread its turn.</remarks>
    private static long MeasureAllocation(Func<object?> run)
    {
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 100; i++)
            {
                run();
            }

            Thread.Sleep(150);
        }

        var least = long.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = run();
            var after = GC.GetAllocatedBytesForCurrentThread();
            GC.KeepAlive(result);
            least = Math.Min(least, after - before);
        }

        return least;
    }

    /// <summary>Every heap object reachable from <paramref name="root"/>, including the root.</summary>
    private static HashSet<object> Collect(object? root)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        if (root is not null)
        {
            pending.Push(root);
        }

        while (pending.TryPop(out var obj))
        {
            if (!seen.Add(obj) || obj is string)
            {
                continue;
            }

            if (obj is Array array)
            {
                var element = array.GetType().GetElementType()!;
                if (element.IsPrimitive || element.IsEnum)
                {
                    continue;
                }

                foreach (var item in array)
                {
                    Visit(item, element, pending);
                }

                continue;
            }

            WalkFields(obj, obj.GetType(), pending);
        }

        return seen;
    }

    private static void WalkFields(object obj, Type type, Stack<object> pending)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                Visit(field.GetValue(obj), field.FieldType, pending);
            }
        }
    }

    /// <summary>A reference is followed; a struct's own fields are walked, as it lives inside its container.</summary>
    private static void Visit(object? value, Type declared, Stack<object> pending)
    {
        if (value is null || declared.IsPrimitive || declared.IsEnum || declared.IsPointer)
        {
            return;
        }

        // A boxed Nullable<T> is a boxed T: walk the runtime type.
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum)
        {
            return;
        }

        if (declared.IsValueType)
        {
            WalkFields(value, type, pending);
        }
        else
        {
            pending.Push(value);
        }
    }

    /// <summary>An object's size on the heap, measured by allocating one of the same shape.</summary>
    private static long SizeOf(object obj)
    {
        var least = long.MaxValue;
        for (var i = 0; i < 2; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var copy = obj switch
            {
                string s => new string('x', s.Length),
                Array a => Array.CreateInstance(a.GetType().GetElementType()!, a.Length),
                _ => RuntimeHelpers.GetUninitializedObject(obj.GetType()),
            };
            var after = GC.GetAllocatedBytesForCurrentThread();
            GC.KeepAlive(copy);
            least = Math.Min(least, after - before);
        }

        return least;
    }

    private static string TypeName(object obj) => obj switch
    {
        string => "string",
        Array a => TypeName(a.GetType().GetElementType()!) + "[]",
        _ => TypeName(obj.GetType()),
    };

    private static string TypeName(Type type) =>
        type.IsGenericType ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(",", type.GetGenericArguments().Select(TypeName))}>" : type.Name;
}
