// BurstBench: against a running stack (`wsscale up`, started by bench/run-burst.sh), connects
// N users at once through the client simulator and measures how the pool takes the burst:
// time until all are connected, time until the pool is balanced, the highest count any
// server reached, the forced moves (sessions shed with 4001) against the fewest a placement
// of the burst as it landed would need, and the users lost. See bench/README.md.
import Foundation
import WSScaleTestSupport

/// Command-line options.
struct Options {
    var clientPort = 8089
    var balancerPort = 8488
    var users = 6000
    var timeoutSeconds = 120

    static let usage = "usage: BurstBench [--client-port 8089] [--balancer-port 8488] [--users 6000] [--timeout 120]"

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
            case "--users": options.users = value
            case "--timeout": options.timeoutSeconds = value
            default:
                FileHandle.standardError.write(Data("unknown option \(flag)\n\(usage)\n".utf8))
                exit(2)
            }
        }
        return options
    }
}

/// The pool's knobs as run-burst.sh set them (read back from the environment it exported).
struct Knobs {
    var connectionLimit: Int
    var hardLimit: Int
    var overTolerance: Int

    static func fromEnvironment() -> Knobs {
        let environment = ProcessInfo.processInfo.environment
        func int(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }
        return Knobs(connectionLimit: int("CONNECTION_LIMIT_PER_HOST", 500), hardLimit: int("MAX_CONNECTIONS_PER_HOST", 1000),
                     overTolerance: int("OVERUTILIZED_TOLERANCE_PERCENT", 10))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
let knobs = Knobs.fromEnvironment()
let api = StackAPI(clientPort: options.clientPort, balancerPort: options.balancerPort,
                   adminToken: ProcessInfo.processInfo.environment["WSSCALE_ADMIN_TOKEN"])

do {
    let report = try await BurstRun(api: api, knobs: knobs, users: options.users,
                                    timeout: .seconds(options.timeoutSeconds)).run()
    print(report.table)
    if !report.complete { exit(1) }
} catch {
    FileHandle.standardError.write(Data("BurstBench failed: \(error)\n".utf8))
    exit(1)
}
