// The build-and-benchmark pipeline. `dotnet tool restore` once, then `dotnet cake --target=<Target>`:
//   Clean     removes artifacts/ and the build outputs
//   Build     builds the solution (Release)
//   Test      runs every test project with coverage (Cobertura XML under artifacts/coverage/)
//   Bench     the full benchmark suite: BenchmarkDotNet (JSON + Markdown under artifacts/bench/), the latency harness,
//             the priority-lane harness, the TorchSharp runner on the CPU (prefetch, then padding on a long-tailed length
//             mix), then the charts (docs/images/) and artifacts/perf/summary.md
//   PerfGate  a short perf run that fails the build when a gate of perf/perf-gates.json is broken
//   Demo      a short run of the demo
//   Pack      NuGet packages of the libraries under artifacts/packages/
//   LoadTest  drives the embeddings server (hosted in-process on 127.0.0.1) at rising concurrency; artifacts/loadtest/report.md
// Options: --configuration=Release (default), --bench-filter='*' (BenchmarkDotNet filter for Bench),
//          --demo-records=500, --load-levels=1,4,16,64 (LoadTest concurrency levels).

var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");
var benchFilter = Argument("bench-filter", "*");
var demoRecords = Argument("demo-records", 500);

var solution = File("./LowLatencyBatcher.sln");
var artifacts = Directory("./artifacts");
var harness = "./perf/LowLatencyBatcher.Harness/LowLatencyBatcher.Harness.csproj";
var benchmarks = "./perf/LowLatencyBatcher.Benchmarks/LowLatencyBatcher.Benchmarks.csproj";
var torchBench = "./perf/LowLatencyBatcher.TorchBench/LowLatencyBatcher.TorchBench.csproj";
var loadTest = "./perf/LowLatencyBatcher.LoadTest/LowLatencyBatcher.LoadTest.csproj";
var loadLevels = Argument("load-levels", "1,4,16,64");
var packable = new[]
{
    "./src/LowLatencyBatcher/LowLatencyBatcher.csproj",
    "./src/LowLatencyBatcher.Torch/LowLatencyBatcher.Torch.csproj",
    "./src/LowLatencyBatcher.Hosting/LowLatencyBatcher.Hosting.csproj",
};

// Runs a built console project (`dotnet run --no-build`): a non-zero exit code fails the target.
void RunProject(string project, string arguments)
{
    DotNetRun(project, arguments, new DotNetRunSettings { Configuration = configuration, NoBuild = true, NoRestore = true });
}

void BuildProject(string project)
{
    DotNetBuild(project, new DotNetBuildSettings { Configuration = configuration });
}

Task("Clean")
    .Does(() =>
{
    CleanDirectory(artifacts);
    DotNetClean(solution.Path.FullPath, new DotNetCleanSettings { Configuration = configuration });
});

Task("Build")
    .Does(() =>
{
    DotNetBuild(solution.Path.FullPath, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    var results = artifacts + Directory("test-results");
    var coverage = artifacts + Directory("coverage");
    CleanDirectory(results);
    CleanDirectory(coverage);
    DotNetTest(solution.Path.FullPath, new DotNetTestSettings
    {
        Configuration = configuration,
        NoBuild = true,
        ResultsDirectory = results,
        Collectors = new[] { "XPlat Code Coverage" }, // coverlet's collector writes Cobertura by default
        Loggers = new[] { "trx" },
    });
    foreach (var report in GetFiles(results.Path.FullPath + "/**/coverage.cobertura.xml"))
    {
        // One folder per test run (a GUID); name each copy after the run folder so none overwrites another.
        var name = report.GetDirectory().GetDirectoryName();
        CopyFile(report, coverage + File($"{name}.cobertura.xml"));
    }
    Information("Coverage (Cobertura): {0}", coverage.Path.FullPath);
});

Task("PerfGate")
    .Does(() =>
{
    BuildProject(harness);
    RunProject(harness, "gate --gates perf/perf-gates.json --baseline perf/perf-baseline.json --out artifacts/perf");
});

Task("Bench")
    .Does(() =>
{
    BuildProject(benchmarks);
    BuildProject(harness);
    BuildProject(torchBench);
    var bench = artifacts + Directory("bench");
    CleanDirectory(bench);
    RunProject(benchmarks, $"--filter \"{benchFilter}\" --artifacts \"{bench.Path.FullPath}\"");
    RunProject(harness, "latency --out artifacts/perf");
    RunProject(harness, "priority --out artifacts/perf");
    RunProject(torchBench, "--out artifacts/perf");
    RunProject(torchBench, "--padding --out artifacts/perf");
    RunProject(harness, $"report --bench \"{bench.Path.FullPath}/results\" --perf artifacts/perf --images docs/images");
    Information("Results: {0}/results (JSON, Markdown), artifacts/perf/ (latency, priority, torch, padding, summary.md), charts: docs/images/", bench.Path.FullPath);
});

Task("Demo")
    .Does(() =>
{
    DotNetRun("./src/LowLatencyBatcher.Demo/LowLatencyBatcher.Demo.csproj", $"--records {demoRecords}",
        new DotNetRunSettings { Configuration = configuration });
});

Task("Pack")
    .Does(() =>
{
    var packages = artifacts + Directory("packages");
    CleanDirectory(packages);
    foreach (var project in packable)
    {
        DotNetPack(project, new DotNetPackSettings { Configuration = configuration, OutputDirectory = packages });
    }
    foreach (var package in GetFiles(packages.Path.FullPath + "/*.nupkg"))
    {
        Information("Package: {0}", package.GetFilename());
    }
});

Task("Default").IsDependentOn("Build");

Task("LoadTest")
    .Does(() =>
{
    BuildProject(loadTest);
    var report = artifacts + File("loadtest/report.md");
    RunProject(loadTest, $"--levels {loadLevels} --out \"{report.Path.FullPath}\"");
    Information("Load test report: {0}", report.Path.FullPath);
});

RunTarget(target);
