#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `redis-server` run as a child process on a loopback port, for `wsscale up`.
///
/// No persistence (`--save ""`, `--appendonly no`): the registry is rebuilt by the servers
/// after any restart. Its output goes to a log file; `stop` sends SIGTERM, then SIGKILL.
public final class RedisServerProcess: Sendable {
    /// The running process.
    public let process: LocalProcess
    /// Where clients reach it (as the balancer's user when it runs with `acl`).
    public let url: RedisURL
    /// Its users, when it runs with an ACL file.
    public let acl: RedisACL?
    /// Where its output goes.
    public let logPath: String
    private let logger: Logger
    private let ended = NIOLockedValueBox<ProcessExitStatus?>(nil)

    private init(process: LocalProcess, url: RedisURL, acl: RedisACL?, logPath: String, logger: Logger) {
        self.process = process
        self.url = url
        self.acl = acl
        self.logPath = logPath
        self.logger = logger
    }

    /// Starts `redis-server` on `host:port` and waits until it answers PING.
    /// - Parameters:
    ///   - host: the loopback address to bind.
    ///   - port: the port to bind.
    ///   - directory: where its log goes.
    ///   - executable: the redis-server binary (a path or a name in `PATH`).
    ///   - startTimeout: how long to wait for PING.
    ///   - acl: its users, written to `<directory>/users.acl` (0600, never on the command
    ///     line); `nil` runs it without users (the `default` user open, loopback only).
    ///   - extraArguments: further options, after wsscale's (`--replicaof 127.0.0.1 6379` for a
    ///     replica); never a secret (they show in `ps`).
    ///   - logger: where it logs.
    /// - Throws: a `RedisError` saying how to install Redis when it is missing, or with its output
    ///   when it exits or does not answer in time (for example when the port is taken).
    public static func start(host: String = "127.0.0.1", port: Int, in directory: String,
                             executable: String = "redis-server", startTimeout: Duration = .seconds(10),
                             eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             acl: RedisACL? = nil, extraArguments: [String] = [],
                             logger: Logger) async throws -> RedisServerProcess {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let logPath = (directory as NSString).appendingPathComponent("redis.log")
        var arguments = ["--bind", host, "--port", "\(port)", "--save", "", "--appendonly", "no",
                         "--daemonize", "no", "--protected-mode", "no", "--dir", directory]
        if let acl {
            let aclPath = (directory as NSString).appendingPathComponent("users.acl")
            try PrivateFile.write(acl.fileText(), to: aclPath)
            arguments += ["--aclfile", aclPath]
        }
        arguments += extraArguments
        let process: LocalProcess
        do {
            process = try LocalProcess.spawn(executable: executable, arguments: arguments,
                                             environment: ProcessInfo.processInfo.environment, outputPath: logPath)
        } catch let error as LocalProcess.SpawnError where error.code == ENOENT {
            throw RedisError.protocolError(
                "\(executable) not found: install Redis (Debian/Ubuntu: apt-get install -y redis-server) or set REDIS_URL")
        }
        let url = acl?.balancerURL(host: host, port: port) ?? RedisURL(host: host, port: port)
        let redis = RedisServerProcess(process: process, url: url, acl: acl, logPath: logPath, logger: logger)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: startTimeout)
        while clock.now < deadline {
            if let status = process.exitStatusIfEnded() {
                throw RedisError.protocolError("redis-server \(status): \(redis.logTail())")
            }
            if let connection = try? await RedisConnection.connect(to: url, eventLoopGroup: eventLoopGroup, logger: logger) {
                // Whoever answers must be the redis-server just started, not another one that
                // holds the port (this one then exits: "Address already in use", reported above).
                let info = try? await connection.send(["INFO", "server"])
                await connection.close()
                if let info, Self.processID(inInfo: info.string ?? "") == process.pid {
                    logger.info("redis-server started", metadata: ["pid": "\(process.pid)", "url": "\(url)"])
                    return redis
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = await process.terminate(grace: .milliseconds(500))
        throw RedisError.protocolError("redis-server did not answer on \(url) within \(startTimeout): \(redis.logTail())")
    }

    /// The `process_id` field of an `INFO server` answer.
    static func processID(inInfo info: String) -> pid_t? {
        info.split(whereSeparator: \.isNewline)
            .first { $0.hasPrefix("process_id:") }
            .flatMap { pid_t($0.dropFirst("process_id:".count).trimmingCharacters(in: .whitespaces)) }
    }

    /// Stops it (SIGTERM, then SIGKILL after `grace`) and reaps it; a second call returns the first result.
    @discardableResult
    public func stop(grace: Duration = .seconds(2)) async -> ProcessExitStatus? {
        if let status = ended.withLockedValue({ $0 }) { return status }
        let status = await process.terminate(grace: grace)
        if let status { ended.withLockedValue { $0 = $0 ?? status } }
        logger.info("redis-server stopped", metadata: ["pid": "\(process.pid)"])
        return status
    }

    /// The last lines it wrote, for error messages.
    public func logTail(lines: Int = 10) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ")
    }
}
