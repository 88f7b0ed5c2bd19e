import Foundation
import Logging
import NIOConcurrencyHelpers
import WSScaleBackends

/// A real `redis-server` on a free 127.0.0.1 port, without persistence, for tests: the
/// product's own `RedisServerProcess` (what `wsscale up` runs), plus what tests need around it.
///
/// ```swift
/// let redis = try await TestRedisServer.start()
/// defer { redis.stop() }
/// await redis.kill()           // like a crash
/// try await redis.restart()    // same port, empty data
/// ```
public final class TestRedisServer: Sendable {
    /// The port it listens on (kept across restarts).
    public let port: Int
    private let directory: String
    private let logger = Logger(label: "test.redis-server")
    private let current: NIOLockedValueBox<RedisServerProcess?>

    private init(port: Int, directory: String, first: RedisServerProcess) {
        self.port = port
        self.directory = directory
        self.current = NIOLockedValueBox(first)
    }

    /// `redis://127.0.0.1:PORT`.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts `redis-server` on a free port and returns once it answers as itself.
    ///
    /// A port found free can be taken before redis-server binds it (tests run in parallel and
    /// every outgoing connection takes an ephemeral port): `RedisServerProcess` then sees its
    /// redis-server exit, and another port is tried.
    public static func start() async throws -> TestRedisServer {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try TestSupport.freeLoopbackPort()
            let directory = NSTemporaryDirectory() + "wsscale-redis-\(UUID().uuidString)"
            do {
                let process = try await RedisServerProcess.start(port: port, in: directory, logger: Logger(label: "test.redis-server"))
                return TestRedisServer(port: port, directory: directory, first: process)
            } catch {
                lastError = error
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        throw TestSupportError("redis-server could not start: \(lastError.map { "\($0)" } ?? "")")
    }

    /// Starts it again on the same port (after `kill()` or `stop()`), empty.
    public func restart() async throws {
        await kill()
        let process = try await RedisServerProcess.start(port: port, in: directory, logger: logger)
        current.withLockedValue { $0 = process }
    }

    /// Kills it with SIGKILL, like a crash, and waits until it is gone.
    public func kill() async {
        guard let process = take()?.process else { return }
        process.send(SIGKILL)
        _ = await process.waitForExit(within: .seconds(10))
    }

    /// Stops it (SIGTERM, SIGKILL after 5 s), waits until it is gone and removes its folder.
    /// Safe to call twice; synchronous, for `defer`.
    public func stop() {
        if let process = take()?.process {
            process.send(SIGTERM)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            var killed = false
            while process.exitStatusIfEnded() == nil {
                if !killed, clock.now >= deadline {
                    process.send(SIGKILL)
                    killed = true
                }
                usleep(5_000)
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit {
        stop()
    }

    private func take() -> RedisServerProcess? {
        current.withLockedValue { process in
            defer { process = nil }
            return process
        }
    }
}
