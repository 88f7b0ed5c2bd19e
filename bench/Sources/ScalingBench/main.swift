// ScalingBench: against a running stack (`wsscale up`), measures side by side the scale-out
// reaction (threshold crossing → new server in HAProxy rotation and taking connections) and
// the Swiss-cheese settle time, each ROUNDS times, and prints median / min / max.
// bench/run-scaling.sh starts the stack and runs it; see bench/README.md.
import Foundation
import WSScaleTestSupport

/// Command-line options.
struct Options {
    var clientPort = 8089
    var balancerPort = 8488
    var rounds = 5

    static let usage = "usage: ScalingBench [--client-port 8089] [--balancer-port 8488] [--rounds 5]"

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst().flatMap(Int.init), value > 0 else {
                FileHandle.standardError.write(Data("\(flag) needs a positive number\n\(usage)\n".utf8))
                exit(2)
            }
            switch flag {
            case "--client-port": options.clientPort = value
            case "--balancer-port": options.balancerPort = value
            case "--rounds": options.rounds = value
            default:
                FileHandle.standardError.write(Data("unknown option \(flag)\n\(usage)\n".utf8))
                exit(2)
            }
        }
        return options
    }
}

/// Median, min and max of some durations, in seconds.
struct Summary {
    var samples: [Duration]

    var median: Double {
        let sorted = samples.map(\.seconds).sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    var min: Double { samples.map(\.seconds).min() ?? .nan }
    var max: Double { samples.map(\.seconds).max() ?? .nan }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
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
                     round, result.inRotation.seconds, result.takingConnections.seconds))
    }
    for round in 1...options.rounds {
        try await PoolReset(scenario: scenario).run()
        // Quiet for 4 s before the hole: longer than a rebalance takes to land (2 s at most).
        let report = try await scenario.swissCheese(total: 40, quiet: .seconds(4), timeout: .seconds(30), prefix: "cheese\(round)")
        settle.append(report.settleTime)
        print(String(format: "swiss cheese round %d: %d users left %@, settled in %.3f s",
                     round, report.left, report.holedServer, report.settleTime.seconds))
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
