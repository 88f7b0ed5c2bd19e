#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers

/// HAProxy run as a child process (`haproxy -f <cfg> -db`), for `wsscale up` and tests.
///
/// It runs in its own process group with its output in a log file; `stop` sends SIGTERM,
/// then SIGKILL after the grace period, and reaps it.
public final class HAProxyProcess: Sendable {
    /// The configuration it was started with.
    public let configuration: HAProxyConfiguration
    /// Where the configuration file was written.
    public let configurationPath: String
    /// Where HAProxy's output goes.
    public let logPath: String
    /// The running process.
    public let process: LocalProcess
    /// A client of its runtime API (the unix socket).
    public let api: HAProxyRuntimeAPI
    private let logger: Logger
    private let ended = NIOLockedValueBox<ProcessExitStatus?>(nil)

    private init(configuration: HAProxyConfiguration, configurationPath: String, logPath: String,
                 process: LocalProcess, logger: Logger) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.logPath = logPath
        self.process = process
        self.api = HAProxyRuntimeAPI(address: .unixSocket(path: configuration.runtimeSocketPath))
        self.logger = logger
    }

    /// Writes the configuration into `directory`, starts HAProxy and waits until its runtime
    /// API answers.
    /// - Parameters:
    ///   - configuration: what to run.
    ///   - directory: where `haproxy.cfg` and `haproxy.log` go.
    ///   - executable: the haproxy binary (a path or a name in `PATH`).
    ///   - startTimeout: how long to wait for the runtime API.
    ///   - logger: where it logs.
    /// - Throws: `HAProxyError` saying how to install HAProxy when it is missing, or with
    ///   HAProxy's own output when it exits or does not answer in time.
    public static func start(_ configuration: HAProxyConfiguration, in directory: String,
                             executable: String = "haproxy", startTimeout: Duration = .seconds(10),
                             logger: Logger) async throws -> HAProxyProcess {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configurationPath = (directory as NSString).appendingPathComponent("haproxy.cfg")
        let logPath = (directory as NSString).appendingPathComponent("haproxy.log")
        try configuration.write(to: configurationPath)
        try? FileManager.default.removeItem(atPath: configuration.runtimeSocketPath)
        let process: LocalProcess
        do {
            process = try LocalProcess.spawn(executable: executable, arguments: ["-f", configurationPath, "-db"],
                                             environment: ProcessInfo.processInfo.environment, outputPath: logPath)
        } catch let error as LocalProcess.SpawnError where error.code == ENOENT {
            throw HAProxyError("\(executable) not found: install HAProxy 2.6 or newer (Debian/Ubuntu: apt-get install -y haproxy)")
        }
        let haproxy = HAProxyProcess(configuration: configuration, configurationPath: configurationPath,
                                     logPath: logPath, process: process, logger: logger)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: startTimeout)
        while clock.now < deadline {
            if let status = process.exitStatusIfEnded() {
                throw HAProxyError("haproxy \(status): \(haproxy.logTail())")
            }
            if (try? await haproxy.api.execute("show info")) != nil {
                logger.info("HAProxy started", metadata: [
                    "pid": "\(process.pid)", "traffic": "\(configuration.trafficBind)",
                    "stats": "\(configuration.statsBind ?? "off")", "socket": "\(configuration.runtimeSocketPath)"])
                return haproxy
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = await process.terminate(grace: .milliseconds(500))
        throw HAProxyError("haproxy did not answer on \(configuration.runtimeSocketPath) within \(startTimeout): \(haproxy.logTail())")
    }

    /// Stops HAProxy (SIGTERM, then SIGKILL after `grace`) and reaps it. Stopping it again
    /// returns the first result.
    /// - Returns: how it ended, `nil` if it survived SIGKILL.
    @discardableResult
    public func stop(grace: Duration = .seconds(2)) async -> ProcessExitStatus? {
        if let status = ended.withLockedValue({ $0 }) { return status }
        let status = await process.terminate(grace: grace)
        if let status { ended.withLockedValue { $0 = $0 ?? status } }
        logger.info("HAProxy stopped", metadata: ["pid": "\(process.pid)", "status": "\(status.map { "\($0)" } ?? "still running")"])
        return status
    }

    /// Which HAProxy process answers on the runtime API.
    public func processIdentity() async throws -> HAProxyProcessIdentity {
        try await api.processIdentity()
    }

    /// The last lines HAProxy wrote, for error messages.
    public func logTail(lines: Int = 10) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ")
    }
}
