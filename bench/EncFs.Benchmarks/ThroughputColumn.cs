using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace EncFs.Benchmarks;

/// <summary>
/// Throughput in MB/s (10^6 bytes, the unit of `openssl speed`): bytes per operation are
/// SectorSize times Sectors (1 when a benchmark has no Sectors parameter) over the median time.
/// The median, because on a shared machine a burst of other work skews the mean of a short run.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);

    public string ColumnName => "MB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Throughput from the median time, 10^6 bytes per second (single thread)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? nanoseconds = summary[benchmarkCase]?.ResultStatistics?.Median;
        if (nanoseconds is not > 0)
        {
            return "NA";
        }

        double bytes = Parameter(benchmarkCase, "SectorSize") * Math.Max(1, Parameter(benchmarkCase, "Sectors"));
        return (bytes / nanoseconds.Value * 1e3).ToString("F0", CultureInfo.InvariantCulture);
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    private static int Parameter(BenchmarkCase benchmarkCase, string name) =>
        benchmarkCase.Parameters[name] is int value ? value : 0;
}
