using System.Management.Automation;
using System.Runtime.CompilerServices;

namespace VdpaPS.Cmdlets;

/// <summary>-Verbose without a cost when it is off: messages are formatted only when PowerShell would write them.</summary>
public abstract partial class VdpaCmdlet
{
    /// <summary>
    /// Whether WriteVerbose writes anything, decided as PowerShell decides it: -Verbose (or -Verbose:$false) when given,
    /// else -Debug turns it on, else $VerbosePreference as the command sees it (anything but SilentlyContinue and Ignore).
    /// </summary>
    /// <remarks>A preference that cannot be read as one counts as on: a message too many costs time, one too few is lost.</remarks>
    internal bool VerboseEnabled
    {
        get
        {
            var bound = MyInvocation.BoundParameters;
            if (bound.TryGetValue("Verbose", out var verbose))
            {
                return IsSet(verbose);
            }

            if (bound.TryGetValue("Debug", out var debug) && IsSet(debug))
            {
                return true;
            }

            return !LanguagePrimitives.TryConvertTo<ActionPreference>(GetVariableValue("VerbosePreference"), out var preference) ||
                preference is not (ActionPreference.SilentlyContinue or ActionPreference.Ignore);
        }
    }

    private static bool IsSet(object? value) => value is SwitchParameter flag ? flag.IsPresent : LanguagePrimitives.IsTrue(value);

    /// <summary>A verbose message written as an interpolated string: its parts are not even evaluated when verbose output is off.</summary>
    private protected void WriteVerbose([InterpolatedStringHandlerArgument("")] VerboseMessage message)
    {
        if (message.TakeText() is { } text)
        {
            WriteVerbose(text);
        }
    }
}

/// <summary>
/// Builds a verbose message from an interpolated string only when the command's verbose output is on; otherwise the
/// compiler skips every part of it (no formatting, no allocation). Taken by <see cref="VdpaCmdlet.WriteVerbose(VerboseMessage)"/>
/// and by the request helpers' descriptions.
/// </summary>
[InterpolatedStringHandler]
internal ref struct VerboseMessage
{
    private DefaultInterpolatedStringHandler _text;
    private readonly bool _enabled;

    public VerboseMessage(int literalLength, int formattedCount, VdpaCmdlet cmdlet, out bool enabled)
    {
        _enabled = enabled = cmdlet.VerboseEnabled;
        _text = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    public void AppendFormatted(string? value) => _text.AppendFormatted(value);

    /// <summary>The message, or null when verbose output is off; once.</summary>
    internal string? TakeText() => _enabled ? _text.ToStringAndClear() : null;
}
