import Foundation
import Logging
import WSScaleBackends
import WSScaleBalancer
import WSScaleCore

/// Pid files for the redis-server and HAProxy that `wsscale up` starts
/// (`<state dir>/redis/redis-server.pid`, `<state dir>/haproxy/haproxy.pid`), so that a run
/// after a crash of `up` (`kill -9`, OOM) stops what the crashed run left behind before it
/// starts its own.
///
/// Without them the old redis-server keeps the port (the new one exits, and the old one
/// answers the new run's PING), and the old HAProxy keeps taking half of the traffic port
/// (HAProxy binds with SO_REUSEPORT) with a stale server list. The servers themselves are
/// adopted by the process backend through its own pid files.
enum LocalStackLeftovers {
    /// One program `up` starts.
    enum Program: String {
        case redis = "redis-server"
        case haproxy

        /// Its short name, in logs and metrics (`redis`, `haproxy`); also its folder in the state directory.
        var name: String { self == .redis ? "redis" : "haproxy" }

        var folder: String { name }
    }

    /// Where the pid file of `program` lives.
    static func pidFilePath(_ program: Program, stateDirectory: String) -> String {
        "\(stateDirectory)/\(program.folder)/\(program.rawValue).pid"
    }

    /// Records a started program (pid, start time, where it listens).
    static func record(_ program: Program, process: LocalProcess, endpoint: Endpoint,
                       stateDirectory: String, logger: Logger) {
        let record = ProcessPidFile(id: program.rawValue, pid: process.pid, endpoint: endpoint, startTime: process.startTime)
        do {
            try record.render().write(toFile: pidFilePath(program, stateDirectory: stateDirectory), atomically: true, encoding: .utf8)
        } catch {
            logger.warning("cannot write pid file", metadata: ["program": "\(program.rawValue)", "error": "\(error)"])
        }
    }

    /// Forgets a program that was stopped.
    static func forget(_ program: Program, stateDirectory: String) {
        try? FileManager.default.removeItem(atPath: pidFilePath(program, stateDirectory: stateDirectory))
    }

    /// Stops the copy of `program` an earlier run left running (same pid and start time as in
    /// its pid file): SIGTERM, then SIGKILL after `grace`. A stale pid file is just removed.
    /// - Returns: whether a leftover was found and stopped.
    @discardableResult
    static func stopLeftover(_ program: Program, stateDirectory: String, grace: Duration = .seconds(2),
                             logger: Logger) async -> Bool {
        let path = pidFilePath(program, stateDirectory: stateDirectory)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let record = ProcessPidFile.parse(text, id: program.rawValue) else { return false }
        let process = LocalProcess(pid: record.pid)
        guard process.isAlive, record.startTime == nil || process.startTime == record.startTime else { return false }
        logger.notice("stopping what an earlier run left running",
                      metadata: ["program": "\(program.rawValue)", "pid": "\(record.pid)", "endpoint": "\(record.endpoint)"])
        _ = await process.terminate(grace: grace)
        return true
    }
}
