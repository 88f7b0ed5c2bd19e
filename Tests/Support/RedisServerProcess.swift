import Foundation

/// A real `redis-server` on a free 127.0.0.1 port, without persistence, for tests.
///
/// ```swift
/// let redis = try await RedisServerProcess.start()
/// defer { redis.stop() }
/// redis.kill()                 // like a crash
/// try await redis.restart()    // same port, empty data
/// ```
public final class RedisServerProcess: @unchecked Sendable {
    /// The port it listens on (kept across restarts).
    public let port: Int
    private let lock = NSLock()
    private var process: Process?

    private init(port: Int) {
        self.port = port
    }

    /// `redis://127.0.0.1:PORT`.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts `redis-server` on a free port and returns once it answers `PING`.
    /// - Parameter arguments: extra arguments (for example `["--requirepass", "secret"]`).
    public static func start(arguments: [String] = []) async throws -> RedisServerProcess {
        let server = RedisServerProcess(port: try TestSupport.freeLoopbackPort())
        server.extraArguments = arguments
        try await server.launch()
        return server
    }

    private var extraArguments: [String] = []

    /// Starts it again on the same port (after `kill()` or `stop()`), empty.
    public func restart() async throws {
        stop()
        try await launch()
    }

    /// Kills it with SIGKILL, like a crash, and waits until it is gone.
    public func kill() {
        end(signal: SIGKILL)
    }

    /// Stops it with SIGTERM and waits until it is gone. Safe to call twice.
    public func stop() {
        end(signal: SIGTERM)
    }

    deinit {
        end(signal: SIGKILL)
    }

    private func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--daemonize", "no",
                             "--dir", NSTemporaryDirectory()] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning {
                throw TestSupportError("redis-server exited at once (status \(process.terminationStatus)) on port \(port)")
            }
            // With --requirepass PING answers -NOAUTH: either reply means it is up.
            if TestSupport.loopbackAnswers(port: port, request: "PING\r\n", expectedPrefix: "+PONG")
                || TestSupport.loopbackAnswers(port: port, request: "PING\r\n", expectedPrefix: "-NOAUTH") {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        end(signal: SIGKILL)
        throw TestSupportError("redis-server did not answer on 127.0.0.1:\(port) within 10 s")
    }

    private func end(signal: Int32) {
        guard let process = lock.withLock({ () -> Process? in
            defer { self.process = nil }
            return self.process
        }) else { return }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, signal)
        }
        process.waitUntilExit()
    }
}
