using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using Perfolizer.Horology;

namespace EncFs.Benchmarks;

/// <summary>
/// A short job (1 launch, 3 warm-ups, 10 iterations of 250 ms) so that a full run takes a couple
/// of minutes, with an MB/s column and the allocations per call.
/// </summary>
public sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        AddJob(Job.ShortRun.WithIterationCount(10).WithIterationTime(TimeInterval.FromMilliseconds(250)));
        AddLogger(ConsoleLogger.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
        AddColumn(new ThroughputColumn());
        AddDiagnoser(MemoryDiagnoser.Default);
        AddAnalyser([.. DefaultConfig.Instance.GetAnalysers()]);
        AddValidator([.. DefaultConfig.Instance.GetValidators()]);

        // Semicolon-separated CSV (invariant numbers contain commas), read by bench/xts-vs-openssl.sh.
        AddExporter(MarkdownExporter.GitHub, new CsvExporter(CsvSeparator.Semicolon));
    }
}
