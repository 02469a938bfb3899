using System.Globalization;
using System.Runtime.InteropServices;

namespace VdpaPS.TestTools;

/// <summary>Command line: `dotnet VdpaPS.TestTools.dll vduse ...`.</summary>
internal static class Program
{
    private const string Usage = """
        usage: VdpaPS.TestTools vduse COMMAND
          vduse create NAME net|blk [--mac MAC] [--mtu N] [--timeout SECONDS]
              create a VDUSE device (needs root and the vduse module)
          vduse serve NAME [SECONDS]
              answer the kernel's control messages for NAME, one line each, until SECONDS have
              passed (default: until SIGINT/SIGTERM)
          vduse destroy NAME
              destroy NAME (fails with EBUSY while a vdpa device uses it)
          vduse list
              print the names of the VDUSE devices
        exit codes: 0 done, 1 failed (message on stderr), 2 bad usage
        """;

    private static int Main(string[] args)
    {
        if (args.Length < 2 || args[0] != "vduse")
        {
            return UsageError(args.Length == 1 && args[0] is "-h" or "--help" or "help" ? null : "expected 'vduse COMMAND'");
        }
        string command = args[1];
        try
        {
            return command switch
            {
                "create" => Create(args[2..]),
                "serve" => Serve(args[2..]),
                "destroy" => Destroy(args[2..]),
                "list" => List(args[2..]),
                _ => UsageError($"unknown command '{command}'"),
            };
        }
        catch (Exception e) when (e is VduseException or ArgumentException)
        {
            Console.Error.WriteLine($"vduse {command}: {e.Message}");
            return 1;
        }
    }

    private static int Create(string[] args)
    {
        if (args.Length < 2)
        {
            return UsageError("create needs NAME and net|blk");
        }
        string mac = "02:00:00:00:00:01";
        ushort mtu = 1500;
        int? timeout = null;
        for (int i = 2; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length)
            {
                return UsageError($"{args[i]} needs a value");
            }
            string value = args[i + 1];
            switch (args[i])
            {
                case "--mac":
                    mac = value;
                    break;
                case "--mtu" when ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var m):
                    mtu = m;
                    break;
                case "--timeout" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t):
                    timeout = t;
                    break;
                default:
                    return UsageError($"bad option '{args[i]} {value}'");
            }
        }
        var device = VduseDevice.Create(args[0], args[1], mac, mtu, timeout);
        Console.WriteLine($"created VDUSE {device.Kind} device {device.Name}");
        return 0;
    }

    private static int Serve(string[] args)
    {
        if (args.Length is < 1 or > 2)
        {
            return UsageError("serve needs NAME [SECONDS]");
        }
        double seconds = double.PositiveInfinity;
        if (args.Length == 2 && (!double.TryParse(args[1], NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || seconds <= 0))
        {
            return UsageError($"SECONDS must be a positive number, not '{args[1]}'");
        }
        var device = VduseDevice.Attach(args[0]);
        using var stop = new ManualResetEventSlim();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Set();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        device.Log = line => Console.Out.WriteLine(line);
        device.StartServing();
        if (double.IsPositiveInfinity(seconds))
        {
            stop.Wait();
        }
        else
        {
            stop.Wait(TimeSpan.FromSeconds(seconds));
        }
        device.StopServing();
        Console.Out.WriteLine($"stopped serving {device.Name} after {device.RequestsServed} messages");
        return 0;
    }

    private static int Destroy(string[] args)
    {
        if (args.Length != 1)
        {
            return UsageError("destroy needs NAME");
        }
        VduseDevice.Destroy(args[0]);
        Console.WriteLine($"destroyed VDUSE device {args[0]}");
        return 0;
    }

    private static int List(string[] args)
    {
        if (args.Length != 0)
        {
            return UsageError("list takes no arguments");
        }
        foreach (var name in VduseDevice.List())
        {
            Console.WriteLine(name);
        }
        return 0;
    }

    private static int UsageError(string? message)
    {
        if (message is not null)
        {
            Console.Error.WriteLine($"vduse: {message}");
        }
        Console.Error.WriteLine(Usage);
        return message is null ? 0 : 2;
    }
}
