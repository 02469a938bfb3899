using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

public sealed class MacAddressTextTests
{
    [Theory]
    [InlineData(new byte[] { 0x02, 0x00, 0x00, 0x00, 0x00, 0x61 }, "02:00:00:00:00:61")]
    [InlineData(new byte[] { 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54 }, "fe:dc:ba:98:76:54")]
    [InlineData(new byte[] { 0x0f, 0xf0, 0x1a, 0xa1, 0x3c, 0xc3 }, "0f:f0:1a:a1:3c:c3")]
    [InlineData(new byte[] { 0xab }, "ab")]
    [InlineData(new byte[0], "")]
    public void FormatsLowerCaseHexPairsJoinedByColons(byte[] mac, string expected) =>
        Assert.Equal(expected, VdpaText.FormatMacAddress(mac));

    [Fact]
    public void FormatsEveryByteValueAsParseReadsIt()
    {
        for (var b = 0; b < 256; b++)
        {
            byte[] mac = [2, (byte)b, 0, (byte)(255 - b), 0x10, (byte)b];
            var text = VdpaText.FormatMacAddress(mac);
            Assert.Equal(string.Join(':', mac.Select(x => x.ToString("x2"))), text);
            Assert.Equal(mac, VdpaText.ParseMacAddress(text, out _));
        }
    }
}
