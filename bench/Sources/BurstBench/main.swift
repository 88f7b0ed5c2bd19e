// BurstBench: against a running stack (`wsscale up`, started by bench/run-burst.sh), connects
// N users at once through the client simulator and measures how the pool takes the burst:
// time until all are connected, time until the pool is balanced, the highest count any
// server reached, the forced moves (sessions shed with 4001) against the fewest a placement
// of the burst as it landed would need, and the users lost. See bench/README.md.
import ArgumentParser
import Foundation
import WSScaleCore
import WSScaleTestSupport

/// Command-line options (`--help` lists them).
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "BurstBench")

    @Option(help: "The client simulator's API port.") var clientPort = 8089
    @Option(help: "The balancer's API port.") var balancerPort = 8488
    @Option(help: "Users connected at once.") var users = 6000
    @Option(name: .customLong("timeout"), help: "Seconds the burst may take.") var timeoutSeconds = 120

    func validate() throws {
        for (flag, value) in [("--client-port", clientPort), ("--balancer-port", balancerPort)] where !(1...65535).contains(value) {
            throw ValidationError("\(flag) must be a port (1-65535), not \(value)")
        }
        for (flag, value) in [("--users", users), ("--timeout", timeoutSeconds)] where value <= 0 {
            throw ValidationError("\(flag) needs a positive number, not \(value)")
        }
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

let options = Options.parseOrExit()
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
