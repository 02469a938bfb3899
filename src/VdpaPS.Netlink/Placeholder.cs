namespace VdpaPS.Netlink; internal static class Placeholder {}
