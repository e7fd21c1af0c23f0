using System.Text.Json.Nodes;
using System.Diagnostics;
using EncFs.Fuse.Tests.Support;

namespace EncFs.Fuse.Tests.Service;

/// <summary>The real `efs service` process with a config of two volumes.</summary>
public sealed class ServiceTests
{
    [Fact]
    public void MountsBothServesThemAndUnmountsCleanlyOnSigterm()
    {
        using var setup = new Setup(secondKeyIsRight: true);
        using (var service = setup.Start())
        {
            setup.WaitMounted(0, 1);
            File.WriteAllText(Path.Combine(setup.MountPoint(0), "a.txt"), "first volume");
            File.WriteAllText(Path.Combine(setup.MountPoint(1), "b.txt"), "second volume");
            service.Signal("TERM");
            Assert.True(service.Process.WaitForExit(30_000), "the service did not stop on SIGTERM");
            Assert.Equal(0, service.Process.ExitCode);
            Assert.False(Mounts.IsMounted(setup.MountPoint(0)));
            Assert.False(Mounts.IsMounted(setup.MountPoint(1)));
            Assert.Contains("All volumes unmounted", service.Log, StringComparison.Ordinal);
        }

        // The locks are released and the data is there.
        using var again = setup.Start();
        setup.WaitMounted(0, 1);
        Assert.Equal("first volume", File.ReadAllText(Path.Combine(setup.MountPoint(0), "a.txt")));
        Assert.Equal("second volume", File.ReadAllText(Path.Combine(setup.MountPoint(1), "b.txt")));
    }

    [Fact]
    public void AVolumeWithAWrongKeyDoesNotStopTheOther()
    {
        using var setup = new Setup(secondKeyIsRight: false);
        using var service = setup.Start();
        setup.WaitMounted(0);
        File.WriteAllText(Path.Combine(setup.MountPoint(0), "ok.txt"), "served");
        Assert.Equal("served", File.ReadAllText(Path.Combine(setup.MountPoint(0), "ok.txt")));
        Thread.Sleep(1500);
        Assert.False(Mounts.IsMounted(setup.MountPoint(1)));
        Assert.Contains("Volume two", service.Log, StringComparison.Ordinal);
        Assert.Contains("wrong passphrase or key; retrying", service.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void KilledServiceIsRestartedOverItsStaleMountsWithSyncedDataIntact()
    {
        using var setup = new Setup(secondKeyIsRight: true);
        using (var service = setup.Start())
        {
            setup.WaitMounted(0, 1);
            using (var file = new FileStream(Path.Combine(setup.MountPoint(0), "durable"), FileMode.CreateNew))
            {
                file.Write("synced before the crash"u8);
                file.Flush(flushToDisk: true);
            }

            service.Signal("KILL");
            Assert.True(service.Process.WaitForExit(10_000));
            Assert.True(Mounts.IsMounted(setup.MountPoint(0)), "a killed service leaves its mounts stale");
        }

        using var restarted = setup.Start();
        setup.WaitMounted(0, 1);
        Assert.Equal("synced before the crash", File.ReadAllText(Path.Combine(setup.MountPoint(0), "durable")));
        Assert.Contains("stale mount", restarted.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void TheControlSocketListsUnmountsMountsAndDisablesScopesLive()
    {
        using var setup = new Setup(secondKeyIsRight: false);
        using var service = setup.Start();
        setup.WaitMounted(0);
        File.WriteAllText(Path.Combine(setup.MountPoint(0), "kept"), "data");

        var list = JsonNode.Parse(ProcessRunner.Efs("service", "status", "--socket", setup.Socket, "--json").EnsureSuccess().Stdout)!.AsArray();
        var one = list.Single(v => v!["name"]!.GetValue<string>() == "one")!;
        var two = list.Single(v => v!["name"]!.GetValue<string>() == "two")!;
        Assert.Equal("mounted", one["state"]!.GetValue<string>());
        Assert.Equal("ok", one["scopes"]![0]!["access"]!.GetValue<string>());
        Assert.Equal("failed", two["state"]!.GetValue<string>());
        Assert.Contains("wrong passphrase or key", two["lastError"]!.GetValue<string>(), StringComparison.Ordinal);

        // A scope created while the service holds the volume is made by the service.
        var scope = ProcessRunner.Efs("scope", "create", setup.Backing(0), "extra", "--key-source", "provided", "--new-key-file", setup.KeyFile(0));
        Assert.True(scope.ExitCode == 0, scope.ToString());
        var scopes = JsonNode.Parse(ProcessRunner.Efs("service", "status", "--socket", setup.Socket, "--json").EnsureSuccess().Stdout)!.AsArray()
            .Single(v => v!["name"]!.GetValue<string>() == "one")!["scopes"]!.AsArray();
        Assert.Equal(["default", "extra"], scopes.Select(s => s!["name"]!.GetValue<string>()));
        ProcessRunner.Efs("service", "unmount", "one", "--socket", setup.Socket).EnsureSuccess();
        WaitUntil(() => !Mounts.IsMounted(setup.MountPoint(0)), "volume one still mounted after 'efs service unmount'");
        Thread.Sleep(1500); // held: no remount by the retry loop
        Assert.False(Mounts.IsMounted(setup.MountPoint(0)));
        ProcessRunner.Efs("service", "mount", "one", "--socket", setup.Socket).EnsureSuccess();
        setup.WaitMounted(0);
        Assert.Equal("data", File.ReadAllText(Path.Combine(setup.MountPoint(0), "kept")));

        // Live requests by mount point reach the service (the refusal is its own, not a busy lock).
        var refused = ProcessRunner.Efs("scope", "disable", setup.MountPoint(0), "default");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("default scope and cannot be disabled", refused.Stderr, StringComparison.Ordinal);
        var nobody = ProcessRunner.Efs("service", "status", "--socket", setup.Socket + ".missing");
        Assert.Equal(2, nobody.ExitCode);
        Assert.Contains("no efs is listening", nobody.Stderr, StringComparison.Ordinal);
        var unknown = ProcessRunner.Efs("service", "mount", "three", "--socket", setup.Socket);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no volume 'three'", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ASocketPathInUseStopsASecondServiceWithNothingMounted()
    {
        using var setup = new Setup(secondKeyIsRight: true);
        using var service = setup.Start();
        setup.WaitMounted(0, 1);
        var second = ProcessRunner.Efs("service", "--config", setup.Config);
        Assert.Equal(2, second.ExitCode);
        Assert.Contains("in use by another running efs", second.Stdout + second.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, Mounts.Count(setup.MountPoint(0)));
        File.WriteAllText(Path.Combine(setup.MountPoint(0), "still"), "served by the first");
    }

    [Fact]
    public void MalformedConfigNamesTheKeyAndMountsNothing()
    {
        using var scratch = new ScratchDirectory();
        var config = Path.Combine(scratch.Path, "bad.json");
        File.WriteAllText(config, """{ "volumes": [ { "name": "x", "backing": "relative/path", "mountPoint": "/tmp" } ] }""");
        var result = ProcessRunner.Efs("service", "--config", config);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("volumes[0].backing = 'relative/path'", result.Stderr, StringComparison.Ordinal);

        File.WriteAllText(config, """{ "volumes": [ { "name": "x", "backing": "/a", "mountPoint": "/b", "colour": "blue" } ] }""");
        var unknown = ProcessRunner.Efs("service", "--config", config);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("colour", unknown.Stderr, StringComparison.Ordinal);
    }

    private static void WaitUntil(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            Thread.Sleep(100);
        }
    }

    private sealed class Setup : IDisposable
    {
        private readonly ScratchDirectory _scratch = new();

        public Setup(bool secondKeyIsRight)
        {
            File.WriteAllText(P("k1"), new string('1', 64));
            File.WriteAllText(P("k2"), new string('2', 64));
            foreach (var i in new[] { 0, 1 })
            {
                Directory.CreateDirectory(MountPoint(i));
                ProcessRunner.Efs("init", P($"v{i}"), "--key-file", P($"k{i + 1}")).EnsureSuccess();
            }

            var secondKey = secondKeyIsRight ? P("k2") : P("k1");
            File.WriteAllText(P("config.json"), $$"""
                {
                  "volumes": [
                    { "name": "one", "backing": "{{P("v0")}}", "mountPoint": "{{MountPoint(0)}}", "keyFile": "{{P("k1")}}" },
                    { "name": "two", "backing": "{{P("v1")}}", "mountPoint": "{{MountPoint(1)}}", "keyFile": "{{secondKey}}" }
                  ],
                  "retrySeconds": 0.5,
                  "maxRetrySeconds": 2,
                  "controlSocket": "{{Socket}}"
                }
                """);
        }

        public string MountPoint(int i) => P($"m{i}");

        public string Socket => P("run/control.sock");

        public string Config => P("config.json");

        public string Backing(int i) => P($"v{i}");

        public string KeyFile(int i) => P($"k{i + 1}");

        public RunningService Start() => new(Config, P($"service-{Guid.NewGuid():N}.log"));

        public void WaitMounted(params int[] volumes)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!volumes.All(i => Mounts.IsMounted(MountPoint(i)) && !FuseStale(MountPoint(i))))
            {
                Assert.True(DateTime.UtcNow < deadline, "volumes not mounted in time");
                Thread.Sleep(100);
            }
        }

        public void Dispose()
        {
            foreach (var i in new[] { 0, 1 })
            {
                ProcessRunner.Run("umount", ["-l", MountPoint(i)]);
            }

            _scratch.Dispose();
        }

        private static bool FuseStale(string mountPoint)
        {
            try
            {
                _ = Directory.GetFileSystemEntries(mountPoint);
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        }

        private string P(string name) => Path.Combine(_scratch.Path, name);
    }

    private sealed class RunningService : IDisposable
    {
        private readonly string _logPath;

        public RunningService(string config, string logPath)
        {
            _logPath = logPath;
            var info = new ProcessStartInfo("bash", ["-c", $"exec dotnet '{ProcessRunner.EfsDll}' service --config '{config}' > '{logPath}' 2>&1"]) { UseShellExecute = false };
            Process = Process.Start(info)!;
        }

        public Process Process { get; }

        public string Log => File.Exists(_logPath) ? File.ReadAllText(_logPath) : string.Empty;

        public void Signal(string signal) => ProcessRunner.Run("kill", [$"-{signal}", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess();

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Signal("TERM");
                if (!Process.WaitForExit(30_000))
                {
                    Process.Kill();
                }
            }

            Process.Dispose();
        }
    }
}
