namespace EncFs.Cli.Tests.Support;

/// <summary>
/// The tests that build installers and packages: they publish into the same artifacts/ and
/// obj/ directories, so they run one after the other, never beside each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PackagingCollection
{
    public const string Name = "Packaging";
}

/// <summary>The self-contained publish in artifacts/linux-x64 (installer/linux/install.sh's build), made once a test run.</summary>
public static class SelfContainedPublish
{
    private static bool s_published;

    /// <summary>install.sh's build option: --no-build once an earlier test of this run has published.</summary>
    public static string[] BuildOption => s_published && File.Exists(ProcessRunner.RepositoryFile("artifacts", "linux-x64", "efs")) ? ["--no-build"] : [];

    /// <summary>Called after a script that published (its build option was empty) succeeded.</summary>
    public static void Published() => s_published = true;

    /// <summary>The version in Directory.Build.props.</summary>
    public static string Version { get; } = ReadVersion();

    private static string ReadVersion()
    {
        var props = System.Xml.Linq.XDocument.Load(ProcessRunner.RepositoryFile("Directory.Build.props"));
        return props.Descendants("Version").Single().Value;
    }
}
