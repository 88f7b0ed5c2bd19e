// ScalingBench: against a running stack (`wsscale up`), measures side by side the scale-out
// reaction (threshold crossing → new server in HAProxy rotation and taking connections) and
// the Swiss-cheese settle time, each ROUNDS times, and prints median / min / max.
// bench/run-scaling.sh starts the stack and runs it; see bench/README.md.
import ArgumentParser
import Foundation
import WSScaleCore
import WSScaleTestSupport

/// Command-line options (`--help` lists them).
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ScalingBench")

    @Option(help: "The client simulator's API port.") var clientPort = 8089
    @Option(help: "The balancer's API port.") var balancerPort = 8488
    @Option(help: "Rounds of each measurement.") var rounds = 5

    func validate() throws {
        for (flag, value) in [("--client-port", clientPort), ("--balancer-port", balancerPort)] where !(1...65535).contains(value) {
            throw ValidationError("\(flag) must be a port (1-65535), not \(value)")
        }
        if rounds <= 0 { throw ValidationError("--rounds needs a positive number, not \(rounds)") }
    }
}

/// Median, min and max of some durations, in seconds.
struct Summary {
    var samples: [Duration]

    var median: Double {
        let sorted = samples.map(\.secondsValue).sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    var min: Double { samples.map(\.secondsValue).min() ?? .nan }
    var max: Double { samples.map(\.secondsValue).max() ?? .nan }
}

let options = Options.parseOrExit()
// The client simulator's API needs the admin token run-scaling.sh gave `wsscale up`.
let api = StackAPI(clientPort: options.clientPort, balancerPort: options.balancerPort,
                   adminToken: ProcessInfo.processInfo.environment["WSSCALE_ADMIN_TOKEN"])
let scenario = StackScenario(api: api, killServer: { _ in })

var inRotation: [Duration] = []
var taking: [Duration] = []
var settle: [Duration] = []
do {
    for round in 1...options.rounds {
        let result = try await ScaleOutRound(scenario: scenario, round: round).run()
        inRotation.append(result.inRotation)
        taking.append(result.takingConnections)
        print(String(format: "scale-out round %d: in rotation %.3f s, taking connections %.3f s",
                     round, result.inRotation.secondsValue, result.takingConnections.secondsValue))
    }
    for round in 1...options.rounds {
        try await PoolReset(scenario: scenario).run()
        // Quiet for 4 s before the hole: longer than a rebalance takes to land (2 s at most).
        let report = try await scenario.swissCheese(total: 40, quiet: .seconds(4), timeout: .seconds(30), prefix: "cheese\(round)")
        settle.append(report.settleTime)
        print(String(format: "swiss cheese round %d: %d users left %@, settled in %.3f s",
                     round, report.left, report.holedServer, report.settleTime.secondsValue))
    }
    try await PoolReset(scenario: scenario).run()
} catch {
    FileHandle.standardError.write(Data("ScalingBench failed: \(error)\n".utf8))
    exit(1)
}

func row(_ name: String, _ summary: Summary, target: String) -> String {
    String(format: "| %@ | %.3f s | %.3f s | %.3f s | %@ |", name, summary.median, summary.min, summary.max, target)
}
print("")
print("| measurement (\(options.rounds) rounds) | median | min | max | target |")
print("|---|---|---|---|---|")
print(row("threshold crossed → new server in HAProxy rotation", Summary(samples: inRotation), target: "—"))
print(row("threshold crossed → new server taking connections", Summary(samples: taking), target: "< 1 s"))
print(row("Swiss cheese: disconnect → every server ≤ average + tolerance, all connected", Summary(samples: settle),
          target: "< 10 s (PoC: 60 s cycle + 5 s reconnect)"))
