import Foundation

/// A real `redis-server` on a free 127.0.0.1 port, without persistence, for tests.
///
/// ```swift
/// let redis = try await TestRedisServer.start()
/// defer { redis.stop() }
/// redis.kill()                 // like a crash
/// try await redis.restart()    // same port, empty data
/// ```
public final class TestRedisServer: @unchecked Sendable {
    /// The port it listens on (kept across restarts).
    public let port: Int
    private let extraArguments: [String]
    private let lock = NSLock()
    private var process: SpawnedProcess?

    private init(port: Int, extraArguments: [String]) {
        self.port = port
        self.extraArguments = extraArguments
    }

    /// `redis://127.0.0.1:PORT`.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts `redis-server` on a free port and returns once it answers `PING`.
    /// - Parameter arguments: extra arguments (for example `["--requirepass", "secret"]`).
    /// A port found free can be taken before redis-server binds it (tests run in parallel
    /// and every outgoing connection takes an ephemeral port): it then tries another one.
    public static func start(arguments: [String] = []) async throws -> TestRedisServer {
        var lastError: Error?
        for _ in 0..<5 {
            let server = TestRedisServer(port: try TestSupport.freeLoopbackPort(), extraArguments: arguments)
            do {
                try await server.launch()
                return server
            } catch let error as PortTaken {
                lastError = error
            }
        }
        throw TestSupportError("redis-server could not start: \(lastError.map { "\($0)" } ?? "")")
    }

    /// redis-server exited at once, most likely because its port was taken meanwhile.
    private struct PortTaken: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts it again on the same port (after `kill()` or `stop()`), empty.
    public func restart() async throws {
        kill()
        try await launch()
    }

    /// Kills it with SIGKILL, like a crash, and waits until it is gone.
    public func kill() {
        takeProcess()?.kill()
    }

    /// Stops it with SIGTERM (SIGKILL after 5 s) and waits until it is gone. Safe to call twice.
    public func stop() {
        takeProcess()?.terminate()
    }

    deinit {
        process?.kill()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// Where redis-server's output goes (removed with this object).
    private let logPath = NSTemporaryDirectory() + "wsscale-redis-\(UUID().uuidString).log"

    private func takeProcess() -> SpawnedProcess? {
        lock.withLock {
            defer { process = nil }
            return process
        }
    }

    private func launch() async throws {
        try? FileManager.default.removeItem(atPath: logPath)
        let process = try SpawnedProcess.launch("redis-server", [
            "--port", String(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", NSTemporaryDirectory(),
        ] + extraArguments, outputPath: logPath)
        lock.withLock { self.process = process }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            guard process.isRunning else {
                _ = takeProcess()
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw PortTaken(description: "redis-server exited at once on port \(port): \(log.suffix(300))")
            }
            // Another program may hold the port (it was taken after it was found free) and
            // answer PING while this redis-server is still failing to bind: only this one's
            // own log says it listens. With --requirepass PING answers -NOAUTH: either reply
            // means it is up.
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if log.contains("Ready to accept connections") && process.isRunning,
               TestSupport.loopbackAnswers(port: port, request: "PING\r\n", expectedPrefix: "+PONG")
                || TestSupport.loopbackAnswers(port: port, request: "PING\r\n", expectedPrefix: "-NOAUTH") {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill()
        throw TestSupportError("redis-server did not answer on 127.0.0.1:\(port) within 10 s")
    }
}
