import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// A real redis-server for one test, and the background tasks (stores, registries) the
/// test runs against it; everything is stopped at the end, also when the test fails.
final class RedisTestFixture: @unchecked Sendable {
    let redis: TestRedisServer
    let url: RedisURL
    let group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    let logger: Logger
    private var tasks: [Task<Void, Error>] = []

    private init(redis: TestRedisServer, label: String) throws {
        self.redis = redis
        self.url = try RedisURL(parsing: redis.url)
        var logger = Logger(label: "test.redis.\(label)")
        logger.logLevel = .warning
        self.logger = logger
    }

    /// Starts redis-server, runs `body`, then cancels and awaits every background task and
    /// stops the server.
    static func with<T>(label: String = #function, _ body: (RedisTestFixture) async throws -> T) async throws -> T {
        let fixture = try RedisTestFixture(redis: try await TestRedisServer.start(), label: label)
        do {
            let result = try await body(fixture)
            await fixture.stopAll()
            return result
        } catch {
            await fixture.stopAll()
            throw error
        }
    }

    /// Runs `work` in the background until the fixture ends (or `stop` is called on the task).
    @discardableResult
    func background(_ work: @escaping @Sendable () async throws -> Void) -> Task<Void, Error> {
        let task = Task { try await work() }
        tasks.append(task)
        return task
    }

    /// A store for `host`, running in the background.
    ///
    /// The lease is 5 s unless a test is about leases: a live store renews every lease/3, and
    /// at the start of the full run both cores are busy enough to delay a 1 s lease's renewal
    /// past its expiry (CI saw sessions vanish from live hosts). A test that waits for an expiry
    /// checks it against the lease Redis holds, not against a guess.
    func runningStore(host: InstanceID, prefix: String = "wsscale",
                      lease: Duration = .seconds(5)) -> (RedisHostSessionStore, Task<Void, Error>) {
        let store = RedisHostSessionStore(url: url, keyPrefix: prefix, host: host, leaseDuration: lease,
                                          eventLoopGroup: group, logger: logger)
        return (store, background { try await store.run() })
    }

    /// A registry, running in the background.
    func runningRegistry(prefix: String = "wsscale") -> RedisSessionRegistry {
        let registry = RedisSessionRegistry(url: url, keyPrefix: prefix, eventLoopGroup: group, logger: logger)
        background { try await registry.run() }
        return registry
    }

    /// A plain connection to the test's Redis.
    func connection() async throws -> RedisConnection {
        try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger)
    }

    private func stopAll() async {
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
        redis.stop()
    }
}

/// Collects what an `AsyncStream` yields, in the background, for later assertions.
final class StreamRecorder<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<Element>) {
        task = Task { [weak self] in
            for await item in stream {
                guard let self else { return }
                self.lock.withLock { self.items.append(item) }
            }
        }
    }

    deinit { task?.cancel() }

    /// Everything received so far.
    var received: [Element] { lock.withLock { items } }
}

/// A session record of `host` for tests.
func testSession(_ id: String, host: InstanceID, at time: Int64 = 1_700_000_000_000) -> SessionRecord {
    SessionRecord(userId: "user-\(id)", sessionId: id, hostId: host, connectedAt: time, lastActive: time)
}
