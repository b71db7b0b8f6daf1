using System.Text.Json;
using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.Harness;

// The perf harness. Commands (paths are relative to the working directory; the Cake targets run it from the root):
//   gate       [--gates perf/perf-gates.json] [--baseline perf/perf-baseline.json] [--out artifacts/perf] [--write-baseline]
//   latency    [--out artifacts/perf] [--quick]
//   priority   [--out artifacts/perf] [--quick]
//   throughput [--producers 1,8,64] [--rounds 5] [--out artifacts/perf]
//   compare    [--rounds 5] [--quick] [--out artifacts/perf]   (ours vs the Channel baseline in issue 10's regimes)
//   report     [--bench artifacts/bench/results] [--perf artifacts/perf] [--images docs/images]
// A bad command or flag ends the run with one line naming it, and exit code 2.
return await CommandLineTool.RunAsync(() => RunAsync(args));

static async Task<int> RunAsync(string[] args)
{
    var command = args.Length > 0 ? args[0] : "help";
    var options = HarnessFlags.Parse(command, args.Skip(1).ToArray());
    string Option(string name, string fallback) => options.TryGetValue(name, out var value) ? value : fallback;
    int Rounds() => FlagValues.Int("--rounds", Option("rounds", "5"), 1, 1000);
    var log = Console.Out;

    switch (command)
    {
        case "gate":
            return await Gate.RunAsync(
                Option("gates", "perf/perf-gates.json"),
                Option("baseline", "perf/perf-baseline.json"),
                Option("out", "artifacts/perf"),
                options.ContainsKey("write-baseline"),
                log);

        case "latency":
        {
            var settings = options.ContainsKey("quick")
                ? new LatencySettings { SecondsPerLoad = 1, LightLoadRecords = 500, NoOpLightLoadRecords = 5_000, DispatchSecondsPerTimeout = 0.5 }
                : new LatencySettings();
            var report = await Latency.RunAsync(settings, log);
            await Save(Option("out", "artifacts/perf"), "latency.json", report);
            return 0;
        }

        case "priority":
        {
            var settings = options.ContainsKey("quick") ? new PrioritySettings { SecondsPerScenario = 2, Rounds = 1 } : new PrioritySettings();
            var report = await Priority.RunAsync(settings, log);
            await Save(Option("out", "artifacts/perf"), "priority.json", report);
            return 0;
        }

        case "throughput":
        {
            var producers = FlagValues.IntList("--producers", Option("producers", "1,8,64"), 1, 4096);
            int rounds = Rounds();
            var results = new List<ThroughputResult>();
            log.WriteLine($"Throughput, closed loop, no-op process function, {rounds} interleaved rounds:");
            foreach (int p in producers)
            {
                int records = p == 1 ? 32_768 : 65_536;
                results.Add(await Throughput.RunAsync([Contender.TokenBatcher, Contender.Channel, Contender.Dataflow], p, records, rounds, log));
            }

            await Save(Option("out", "artifacts/perf"), "throughput.json", results);
            return 0;
        }

        case "compare":
        {
            int rounds = Rounds();
            var settings = new CompareSettings { Rounds = rounds, IdleCostRounds = rounds };
            return await Compare.RunAsync(options.ContainsKey("quick") ? settings.Quick() : settings, Option("out", "artifacts/perf"), log);
        }

        case "report":
            return Report.Write(
                Option("bench", "artifacts/bench/results"),
                Option("perf", "artifacts/perf"),
                Option("images", "docs/images"),
                log);

        default:
            Console.WriteLine(HarnessFlags.Usage);
            return 0;
    }
}

static async Task Save<T>(string dir, string name, T value)
{
    Directory.CreateDirectory(dir);
    string path = Path.Combine(dir, name);
    await File.WriteAllTextAsync(path, JsonSerializer.Serialize(value, Gate.Json));
    Console.WriteLine($"Wrote {path}");
}
