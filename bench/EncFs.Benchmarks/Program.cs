using BenchmarkDotNet.Running;
using EncFs.Benchmarks;

// Pass BenchmarkDotNet arguments through, e.g. --filter '*Xts*'.
BenchmarkSwitcher.FromAssembly(typeof(XtsSectorBenchmarks).Assembly).Run(args, new BenchmarkConfig());
