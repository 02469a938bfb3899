using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using Perfolizer.Metrology;
using VdpaPS.Benchmarks;

// Encode and decode benchmarks of the core on the recorded kernel replies.
//   dotnet run -c Release --project tests/VdpaPS.Benchmarks -- --footprint FILE   allocations against the returned objects
//   dotnet run -c Release --project tests/VdpaPS.Benchmarks -- --filter '*'      BenchmarkDotNet (BenchmarkSwitcher options)
if (args is ["--footprint", var file])
{
    var table = Footprint.Run();
    File.WriteAllText(file, table);
    Console.Write(table);
    return 0;
}

// A short in-process job: the build machines have 2 shared cores, and these methods take nanoseconds to microseconds,
// so three warm-up and seven measured iterations are steady enough, and no generated project has to be built.
var job = Job.ShortRun.WithIterationCount(7).WithMinIterationTime(TimeInterval.FromMilliseconds(100)).WithToolchain(InProcessEmitToolchain.Instance);
var config = DefaultConfig.Instance
    .AddJob(job)
    // Always shown: on shared cores a few slow iterations move the mean, the median far less.
    .AddColumn(StatisticColumn.Median)
    .WithSummaryStyle(SummaryStyle.Default.WithSizeUnit(SizeUnit.B).WithTimeUnit(TimeUnit.Nanosecond))
    .HideColumns(Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount);
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
