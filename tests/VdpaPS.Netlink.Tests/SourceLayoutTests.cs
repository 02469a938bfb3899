using System.Text.RegularExpressions;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The folders of both src projects are their architecture: a file's namespace is its folder's, one namespace a file, and each
/// folder says in a README what it owns. Read from the source tree, so a file moved without its namespace (or the reverse) fails here.
/// </summary>
public sealed partial class SourceLayoutTests
{
    private static readonly string[] Projects = ["VdpaPS.Netlink", "VdpaPS"];

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    public static TheoryData<string> SourceFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Projects.SelectMany(EnumerateSources))
        {
            data.Add(Path.GetRelativePath(SourceRoot, file).Replace('\\', '/'));
        }

        return data;
    }

    [Fact]
    public void FindsTheSourcesOfBothProjects()
    {
        foreach (var project in Projects)
        {
            Assert.True(EnumerateSources(project).Count() > 5, $"src/{project} has next to no .cs files: is {SourceRoot} the source tree?");
        }
    }

    [Theory]
    [MemberData(nameof(SourceFiles))]
    public void EachFileDeclaresOneNamespaceThatOfItsFolder(string file)
    {
        var text = File.ReadAllText(Path.Combine(SourceRoot, file));
        var declared = NamespaceDeclaration().Matches(text).Select(m => m.Groups[1].Value).ToList();

        Assert.True(declared.Count == 1, $"{file} declares {declared.Count} namespaces ({string.Join(", ", declared)}); one file, one namespace.");
        Assert.Equal(ExpectedNamespace(file), declared[0]);
    }

    [Fact]
    public void EachFolderHasAReadme()
    {
        var folders = Projects.SelectMany(EnumerateSources).Select(Path.GetDirectoryName).Distinct()
            .Where(d => !Projects.Contains(Path.GetFileName(d)));
        var lacking = folders.Where(d => !File.Exists(Path.Combine(d!, "README.md"))).Select(d => Path.GetRelativePath(SourceRoot, d!)).ToList();
        Assert.True(lacking.Count == 0, $"Folders without a README.md saying what they own and may use: {string.Join(", ", lacking)}.");
    }

    [Theory]
    [InlineData("VdpaPS.Netlink/Vdpa/VdpaClient.cs", "VdpaPS.Netlink.Vdpa")]
    [InlineData("VdpaPS.Netlink/VdpaPS/VdpaModels.cs", "VdpaPS")]
    [InlineData("VdpaPS/Commands/NewVdpaDeviceCommand.cs", "VdpaPS.Commands")]
    [InlineData("VdpaPS/ModuleInitializer.cs", "VdpaPS")]
    public void TheFolderRuleNamesTheNamespace(string file, string expected) => Assert.Equal(expected, ExpectedNamespace(file));

    /// <summary>
    /// The folders below src/, dotted, from the innermost folder whose name is itself a namespace (VdpaPS…): the project folder, or
    /// the core's VdpaPS/ whose public output types keep the names users see (VdpaPS.VdpaDevice in format views and scripts).
    /// </summary>
    internal static string ExpectedNamespace(string file)
    {
        var folders = file.Split('/')[..^1];
        var start = Array.FindLastIndex(folders, f => f.StartsWith("VdpaPS", StringComparison.Ordinal));
        return string.Join('.', folders[start..]);
    }

    private static IEnumerable<string> EnumerateSources(string project) =>
        Directory.EnumerateFiles(Path.Combine(SourceRoot, project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"));

    /// <summary>src/ of the repository this test assembly was built from: the first folder above it that holds VdpaPS.sln.</summary>
    private static string SourceRoot { get; } = FindSourceRoot();

    private static string FindSourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VdpaPS.sln")))
            {
                return Path.Combine(dir.FullName, "src");
            }
        }

        throw new InvalidOperationException($"No VdpaPS.sln above {AppContext.BaseDirectory}: the layout test reads the source tree.");
    }
}
