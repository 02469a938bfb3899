using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>The -Driver values: the two vdpa bus drivers, or None to leave the device unbound.</summary>
internal static class DriverNames
{
    public const string None = "None";

    public static string? ToSysfs(string driver) =>
        string.Equals(driver, None, StringComparison.OrdinalIgnoreCase) ? null : driver.ToLowerInvariant();
}

public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// Binds an existing device to another driver (or unbinds it), which takes away what it became: its users are looked for
    /// right before (<see cref="CheckUsageBeforeSending"/>), and a device that may be in use is unbound only when forced.
    /// </summary>
    private protected bool TryChangeDriver(string name, string driver, bool force) =>
        (VdpaSysfs.Default.GetDriver(name) is not { } bound || bound == DriverNames.ToSysfs(driver) ||
            CheckUsageBeforeSending(new VdpaDevice { Name = name }, $"unbound from {bound}", force) is not null) &&
        TryBindDriver(name, driver);

    /// <summary>Binds a device to a driver (or unbinds it) through sysfs; a failure is this item's error, not the command's end.</summary>
    private protected bool TryBindDriver(string name, string driver)
    {
        var target = DriverNames.ToSysfs(driver);
        WriteVerbose($"Binding vDPA device '{name}' to {target ?? "no driver"} (sysfs: unbind, driver_override, bind).");
        try
        {
            if (!VdpaSysfs.Default.SetDriver(name, target))
            {
                WriteVerbose($"vDPA device '{name}' already had {target ?? "no driver"}; nothing was written.");
            }

            return true;
        }
        catch (VdpaSysfsException e)
        {
            WriteError(VdpaErrors.FromSysfs(e, name));
            return false;
        }
        catch (ArgumentException e)
        {
            WriteError(VdpaErrors.InvalidInput(VdpaErrors.InvalidName, e.Message, name));
            return false;
        }
    }
}
