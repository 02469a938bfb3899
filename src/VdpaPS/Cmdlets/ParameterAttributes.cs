using System.Management.Automation;

namespace VdpaPS.Cmdlets;

/// <summary>
/// [ValidateRange] for a parameter a piped object may leave null (New-VdpaDevice -Mtu of a piped device that shows none):
/// null passes, as the parameter's absence would; a value outside the range is refused by the binder as ValidateRange
/// refuses it (ParameterArgumentValidationError, InvalidData), which refuses null too.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class ValidateRangeOrNullAttribute(long minimum, long maximum) : ValidateArgumentsAttribute
{
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        if (arguments is PSObject wrapped)
        {
            arguments = wrapped.BaseObject;
        }

        if (arguments is null)
        {
            return;
        }

        var value = LanguagePrimitives.ConvertTo<long>(arguments);
        if (value < minimum || value > maximum)
        {
            throw new ValidationMetadataException(
                $"The {value} argument is {(value < minimum ? $"less than the minimum allowed range of {minimum}" : $"greater than the maximum allowed range of {maximum}")}. " +
                "Supply an argument that is within the range and then try the command again.");
        }
    }
}

/// <summary>
/// A device's configuration as Linux 6.1 shows it has an MTU of 0 when the device offers no MTU feature (later kernels
/// show none): piped to New-VdpaDevice -Mtu, that is no MTU. Only a UInt16 0 (what a configuration carries) is taken
/// so; a typed -Mtu 0 is an Int32 and is refused by the range as before.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class ShownNoMtuAsNullAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object inputData) =>
        (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) is ushort and 0 ? null : inputData;
}
