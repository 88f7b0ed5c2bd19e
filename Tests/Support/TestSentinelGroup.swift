#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import WSScaleBackends

/// A real Redis Sentinel setup on loopback, for tests: a master and its replicas (each a
/// `redis-server` without persistence, as `RedisServerProcess` runs it) and sentinels
/// (`redis-server <conf> --sentinel`, the program Debian's `redis-sentinel` package runs)
/// that monitor the master as `masterName`, with quorum `sentinels / 2 + 1`.
///
/// The sentinels call a master down after 1 s without an answer (`down-after-milliseconds`;
/// production setups use 5–30 s), so a failover takes seconds, not half a minute.
///
/// Users, on every node (Redis does not replicate them): `default` (no password) for the
/// sentinels and the replication links; the balancer's user as `RedisACL` writes it
/// (`balancerURL`); and an operator allowed everything, for the test's own checks. The
/// servers' users are the balancer's to make, as in production.
///
/// ```swift
/// let group = try await TestSentinelGroup.start()
/// defer { group.stop() }
/// let old = try await group.masterPort()
/// await group.killNode(port: old)                 // kill -9
/// let new = try await group.waitForFailover(from: old)
/// ```
public final class TestSentinelGroup: Sendable {
    /// The master's name among the sentinels.
    public let masterName = "wsscale-test"
    /// The ports of the Redis servers, the first master at the start.
    public let nodePorts: [Int]
    /// The sentinels' ports.
    public let sentinelPorts: [Int]
    private let directory: String
    private let nodes: NIOLockedValueBox<[Int: RedisServerProcess]>
    private let sentinels: [LocalProcess]
    private let logger: Logger
    /// The balancer's user (and the secret the servers' users derive from).
    public let acl: RedisACL
    /// The operator's password (user `wsscale-test-operator`, every command).
    private let operatorPassword: String
    static let operatorUser = "wsscale-test-operator"

    private init(nodes: [Int: RedisServerProcess], nodePorts: [Int], sentinels: [LocalProcess], sentinelPorts: [Int],
                 directory: String, acl: RedisACL, operatorPassword: String, logger: Logger) {
        self.acl = acl
        self.operatorPassword = operatorPassword
        self.nodes = NIOLockedValueBox(nodes)
        self.nodePorts = nodePorts
        self.sentinels = sentinels
        self.sentinelPorts = sentinelPorts
        self.directory = directory
        self.logger = logger
    }

    /// `redis+sentinel://127.0.0.1:P1,…/wsscale-test`, logged in as nobody (the `default` user).
    public var url: String {
        "redis+sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/\(masterName)"
    }

    /// `url` logged in as the balancer's user: what the balancer's `REDIS_URL` holds.
    public var balancerURL: String {
        url.replacingOccurrences(of: "://", with: "://\(RedisACL.balancerUser):\(acl.balancerPassword)@")
    }

    /// Starts the master, `replicas` replicas and `sentinelCount` sentinels, and returns once
    /// every replica replicates and every sentinel knows the replicas and the other sentinels
    /// (before that, a failover could not happen).
    public static func start(replicas: Int = 1, sentinelCount: Int = 3) async throws -> TestSentinelGroup {
        var logger = Logger(label: "test.sentinel-group")
        logger.logLevel = .warning
        let directory = NSTemporaryDirectory() + "wsscale-sentinel-\(UUID().uuidString)"
        var nodes: [Int: RedisServerProcess] = [:]
        var nodePorts: [Int] = []
        var sentinels: [LocalProcess] = []
        var sentinelPorts: [Int] = []
        let acl = RedisACL.generate(keyPrefix: "wsscale")
        let operatorPassword = RedisACL.generate(keyPrefix: "wsscale").balancerPassword
        let balancerRules = acl.fileText().split(separator: "\n")[1].split(separator: " ").dropFirst(2).map(String.init)
        func cleanUp() {
            for node in nodes.values { node.process.send(SIGKILL) }
            for sentinel in sentinels { sentinel.send(SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
        }
        do {
            for index in 0...replicas {
                let replicaOf = nodePorts.first.map { ["--replicaof", "127.0.0.1", "\($0)"] } ?? []
                let (port, node) = try await onFreePort { port in
                    try await RedisServerProcess.start(port: port, in: "\(directory)/node-\(index)",
                                                       extraArguments: replicaOf, logger: logger)
                }
                nodes[port] = node
                nodePorts.append(port)
                let connection = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: port),
                                                                   eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
                defer { Task { await connection.close() } }
                try await connection.send(["ACL", "SETUSER", RedisACL.balancerUser] + balancerRules)
                try await connection.send(["ACL", "SETUSER", operatorUser, "on", ">\(operatorPassword)", "~*", "&*", "+@all"])
            }
            let master = nodePorts[0]
            for port in nodePorts.dropFirst() {
                try await TestSupport.waitUntil("the replica on \(port) replicates \(master)", timeout: .seconds(20), {
                    try await info(port: port, section: "replication").contains("master_link_status:up")
                })
            }
            for index in 0..<sentinelCount {
                let port = try TestSupport.freeLoopbackPort()
                let folder = "\(directory)/sentinel-\(index)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let configuration = """
                    port \(port)
                    bind 127.0.0.1
                    protected-mode no
                    daemonize no
                    dir \(folder)
                    sentinel monitor wsscale-test 127.0.0.1 \(master) \(sentinelCount / 2 + 1)
                    sentinel down-after-milliseconds wsscale-test 1000
                    sentinel failover-timeout wsscale-test 10000
                    sentinel parallel-syncs wsscale-test 1

                    """
                try configuration.write(toFile: "\(folder)/sentinel.conf", atomically: true, encoding: .utf8)
                sentinels.append(try LocalProcess.spawn(
                    executable: "redis-server", arguments: ["\(folder)/sentinel.conf", "--sentinel"],
                    environment: ProcessInfo.processInfo.environment, outputPath: "\(folder)/sentinel.log"))
                sentinelPorts.append(port)
            }
            let group = TestSentinelGroup(nodes: nodes, nodePorts: nodePorts, sentinels: sentinels,
                                          sentinelPorts: sentinelPorts, directory: directory, acl: acl,
                                          operatorPassword: operatorPassword, logger: logger)
            try await TestSupport.waitUntil("every sentinel knows \(replicas) replica(s) and \(sentinelCount - 1) other sentinel(s)",
                                            timeout: .seconds(30), {
                for port in sentinelPorts {
                    let known = try await group.sentinel(port, ["SENTINEL", "replicas", "wsscale-test"]).array?.count ?? 0
                    let peers = try await group.sentinel(port, ["SENTINEL", "sentinels", "wsscale-test"]).array?.count ?? 0
                    guard known == replicas, peers == sentinelCount - 1 else { return false }
                }
                return true
            }, describe: { group.logTails() })
            return group
        } catch {
            cleanUp()
            throw error
        }
    }

    /// The master's port as the first sentinel that answers says.
    public func masterPort() async throws -> Int {
        var problems: [String] = []
        for port in sentinelPorts {
            do {
                let reply = try await sentinel(port, ["SENTINEL", "get-master-addr-by-name", masterName])
                if let master = reply.array?.last?.integer { return Int(master) }
                problems.append("\(port): \(reply)")
            } catch {
                problems.append("\(port): \(error)")
            }
        }
        throw TestSupportError("no sentinel names the master: \(problems)")
    }

    /// Waits until every sentinel names another master than `old`, and returns its port.
    @discardableResult
    public func waitForFailover(from old: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        var seen: Set<Int> = []
        try await TestSupport.waitUntil("every sentinel names a new master (was \(old))", timeout: timeout, {
            seen = []
            for port in self.sentinelPorts {
                let reply = try await self.sentinel(port, ["SENTINEL", "get-master-addr-by-name", self.masterName])
                seen.insert(Int(reply.array?.last?.integer ?? -1))
            }
            return seen.count == 1 && !seen.contains(old) && !seen.contains(-1)
        }, describe: { "sentinels name \(seen); \(self.logTails())" })
        guard let master = seen.first else { throw TestSupportError("no new master") }
        return master
    }

    /// Kills a Redis server with SIGKILL, like a crash, and waits until it is gone.
    public func killNode(port: Int) async {
        guard let node = nodes.withLockedValue({ $0.removeValue(forKey: port) }) else { return }
        node.process.send(SIGKILL)
        _ = await node.process.waitForExit(within: .seconds(10))
    }

    /// A connection to the Redis server on `port` as the operator, who may run every command.
    public func connection(port: Int) async throws -> RedisConnection {
        try await RedisConnection.connect(
            to: RedisURL(host: "127.0.0.1", port: port, username: Self.operatorUser, password: operatorPassword),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    /// Runs `command` on every Redis server still running (users, which Redis does not replicate).
    public func onEveryNode(_ command: [String]) async throws {
        for port in nodes.withLockedValue({ Array($0.keys) }) {
            let connection = try await connection(port: port)
            defer { Task { await connection.close() } }
            try await connection.send(command)
        }
    }

    /// Cuts the Redis server on `port` off from the sentinels and its replicas, but not from
    /// the clients: the `default` user they log in as is turned off and its connections
    /// killed. The sentinels then see it down and fail over, while it still believes it is the
    /// master and takes the writes of any client still connected to it (a split brain).
    public func partitionFromSentinels(port: Int) async throws {
        let connection = try await connection(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(["ACL", "SETUSER", "default", "off"])
        try await connection.send(["CLIENT", "KILL", "USER", "default"])
    }

    /// Asks one sentinel.
    public func sentinel(_ port: Int, _ command: [String]) async throws -> RedisValue {
        let connection = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: port),
                                                           eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        defer { Task { await connection.close() } }
        return try await connection.send(command)
    }

    /// The last lines of every sentinel's log, for failure messages.
    public func logTails(lines: Int = 8) -> String {
        (0..<sentinels.count).map { index in
            let text = (try? String(contentsOfFile: "\(directory)/sentinel-\(index)/sentinel.log", encoding: .utf8)) ?? ""
            return "sentinel \(sentinelPorts[index]): " + text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ")
        }.joined(separator: "\n")
    }

    /// Stops everything (SIGKILL: nothing is kept) and removes the folder. Safe to call twice.
    public func stop() {
        let running = nodes.withLockedValue { nodes in
            defer { nodes = [:] }
            return Array(nodes.values)
        }
        for node in running { node.process.send(SIGKILL) }
        for sentinel in sentinels { sentinel.send(SIGKILL) }
        for process in running.map(\.process) + sentinels {
            while process.exitStatusIfEnded() == nil { usleep(5_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `INFO <section>` of the Redis server on `port`.
    private static func info(port: Int, section: String) async throws -> String {
        let connection = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: port),
                                                           eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                                           logger: Logger(label: "test.sentinel-group"))
        defer { Task { await connection.close() } }
        return try await connection.send(["INFO", section]).string ?? ""
    }

    /// Runs `start` on a free port, trying another when a test beside this one took it first.
    private static func onFreePort<T>(_ start: (Int) async throws -> T) async throws -> (Int, T) {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try TestSupport.freeLoopbackPort()
            do { return (port, try await start(port)) } catch { lastError = error }
        }
        throw TestSupportError("redis-server could not start: \(lastError.map { "\($0)" } ?? "")")
    }
}
