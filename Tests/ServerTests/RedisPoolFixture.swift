import Foundation
import Logging
import NIOPosix
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A real pool for one test: a `redis-server` on a free loopback port, `wsscale server`
/// processes (the built binary) writing to it under a key prefix of their own, and a
/// `RedisSessionRegistry` as the balancer sees it. Everything is killed at the end, also
/// when the test fails.
final class RedisPoolFixture: @unchecked Sendable {
    let redis: TestRedisServer
    let url: RedisURL
    /// The pool's key prefix, unique per test.
    let prefix: String
    /// The balancer's view of the pool.
    let registry: RedisSessionRegistry
    private let logger: Logger
    private let lock = NSLock()
    private var servers: [PoolServerProcess] = []
    private var registryTask: Task<Void, Error>?

    private init(redis: TestRedisServer) throws {
        self.redis = redis
        self.url = try RedisURL(parsing: redis.url)
        self.prefix = "t" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var logger = Logger(label: "test.pool")
        logger.logLevel = .error
        self.logger = logger
        self.registry = RedisSessionRegistry(url: url, keyPrefix: prefix,
                                             eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    /// Starts redis-server and the registry, runs `body`, then kills every server process,
    /// stops the registry and redis-server.
    static func with(_ body: (RedisPoolFixture) async throws -> Void) async throws {
        let fixture = try RedisPoolFixture(redis: try await TestRedisServer.start())
        let registry = fixture.registry
        fixture.registryTask = Task { try await registry.run() }
        do {
            try await body(fixture)
        } catch {
            fixture.printServerLogs()
            await fixture.stopAll()
            throw error
        }
        await fixture.stopAll()
    }

    /// Starts `wsscale server` as `id` on a free port and returns once `/health` answers 200
    /// and the host is in the registry's topology (its store is connected and subscribed).
    func startServer(_ id: InstanceID, maxConnections: Int = 10, lease: Int = 1) async throws -> PoolServerProcess {
        var lastProblem = ""
        for _ in 0..<3 {
            let port = try TestSupport.freeLoopbackPort()
            let server = try PoolServerProcess.launch(id: id, port: port, environment: [
                "REDIS_URL": redis.url + "/0",
                "REDIS_KEY_PREFIX": prefix,
                "LEASE_SECONDS": String(lease),
                "MAX_CONNECTIONS_PER_HOST": String(maxConnections),
                "SHUTDOWN_GRACE_SECONDS": "3",
            ])
            lock.withLock { servers.append(server) }
            let ready = await TestSupport.eventually(timeout: .seconds(10)) {
                guard server.process.isRunning else { return true }
                guard try await server.http("GET", "/health").status == 200 else { return false }
                return try await self.registry.topology().contains { $0.host == id }
            }
            if ready && server.process.isRunning { return server }
            lastProblem = server.logTail()
            server.process.kill()  // the port may have been taken meanwhile: try another one
        }
        throw TestSupportError("wsscale server \(id) did not become ready: \(lastProblem)")
    }

    /// The registry's topology as `[host: sessions]`.
    func sessionCounts() async throws -> [InstanceID: Int] {
        Dictionary(uniqueKeysWithValues: try await registry.topology().map { ($0.host, $0.sessions) })
    }

    /// A plain connection to the test's Redis (the caller closes it).
    func connection() async throws -> RedisConnection {
        try await RedisConnection.connect(to: url, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    /// The schema of the pool's keys.
    var schema: RedisKeySchema { RedisKeySchema(prefix: prefix) }

    private func printServerLogs() {
        for server in lock.withLock({ servers }) {
            print("--- log of \(server.id) (port \(server.port)):\n\(server.logTail())")
        }
    }

    private func stopAll() async {
        for server in lock.withLock({ servers }) {
            server.process.kill()
            try? FileManager.default.removeItem(atPath: server.logPath)
        }
        registryTask?.cancel()
        _ = await registryTask?.result
        redis.stop()
    }
}

/// One `wsscale server` child process of a `RedisPoolFixture`.
final class PoolServerProcess: Sendable {
    let id: InstanceID
    let port: Int
    let process: SpawnedProcess
    /// Its stdout and stderr.
    let logPath: String

    private init(id: InstanceID, port: Int, process: SpawnedProcess, logPath: String) {
        self.id = id
        self.port = port
        self.process = process
        self.logPath = logPath
    }

    /// Starts `wsscale server` with its identity and `environment` (through `env`, so the
    /// test process' own environment is left alone).
    static func launch(id: InstanceID, port: Int, environment: [String: String]) throws -> PoolServerProcess {
        let identity = ["SERVER_ID": id, "SERVER_HOST": "127.0.0.1", "SERVER_PORT": String(port),
                        "WSSCALE_ADMIN_TOKEN": TestSupport.adminToken]
        let assignments = identity.merging(environment) { _, given in given }
            .sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }
        let logPath = NSTemporaryDirectory() + "wsscale-test-\(id)-\(port).log"
        let process = try SpawnedProcess.launch("env", assignments + [ServerProcessTests.binary.path, "server"],
                                                outputPath: logPath)
        return PoolServerProcess(id: id, port: port, process: process, logPath: logPath)
    }

    /// Connects a WebSocket client as `userId`.
    func connect(_ userId: String) async throws -> WebSocketTestClient {
        try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/\(userId)")
    }

    /// Sends a REST request.
    /// One request, with the admin token and (with a body) `Content-Type: application/json`.
    func http(_ method: String, _ path: String, body: String? = nil,
              headers: [(String, String)] = []) async throws -> RawHTTPClient.Response {
        var headers = headers + [("Authorization", "Bearer \(TestSupport.adminToken)")]
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/json"))
        }
        return try await RawHTTPClient.request(method, path, port: port, headers: headers, body: body)
    }

    /// The end of its log.
    func logTail() -> String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(2_000))
    }

    /// Whether it exited with status 0.
    var exitedCleanly: Bool {
        process.exitStatus?.exitCode == 0
    }
}

extension WebSocketTestClient {
    /// Whether the connection still echoes a text message (it is open and served).
    func echoes(_ text: String) async -> Bool {
        guard (try? await send(text: text)) != nil else { return false }
        let answer = try? await within(.seconds(2)) { await self.nextMessage() }
        return answer == .text(text)
    }
}
