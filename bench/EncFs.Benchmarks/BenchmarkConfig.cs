using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace EncFs.Benchmarks;

/// <summary>A short job (1 launch, 3 warm-ups, 3 iterations) so a full run takes minutes, plus MB/s.</summary>
public sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.ShortRun);
        AddColumn(new ThroughputColumn());
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
