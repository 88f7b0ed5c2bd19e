#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Logging
import NIOPosix
import WSScaleBackends
import WSScaleTestSupport

/// The `attack` suite against `wsscale up` with its defaults: everything an outsider (or a web
/// page in the operator's browser) would try against the ports `up` opens, tried for real, and
/// refused. Each case prints what it tried and what it got.
extension RealStackTests {
@Suite("attack: wsscale up")
struct UpAttackTests {
    /// One attempt and its answer.
    struct Attempt: CustomStringConvertible {
        var tried: String
        var status: Int
        var body: String
        var description: String { "\(tried) → \(status) \(body.prefix(90).replacingOccurrences(of: "\n", with: " "))" }
    }

    static func attempt(_ tried: String, _ method: String, _ path: String, port: Int,
                        headers: [(String, String)] = [], body: String? = nil) async throws -> Attempt {
        let response = try await RawHTTPClient.request(method, path, port: port, headers: headers, body: body)
        return Attempt(tried: tried, status: response.status, body: response.body)
    }

    /// What a server's own Redis user must be refused (each answer `NOPERM`) under key prefix
    /// `prefix`, `other` being another host's id. Shared with compose's attack
    /// (`DockerComposeTests`), which sends it from inside a server's container.
    static func refusedToAServer(prefix: String, other: String) -> [[String]] {
        [["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "SET", "dir", "/tmp"], ["ACL", "LIST"], ["KEYS", "*"],
         ["EVAL", "return 1", "0"], ["SET", "other:key", "x"], ["HSET", "other:host:x:sessions", "a", "b"],
         ["HSET", "\(prefix):host:\(other):sessions", "a", "b"], ["DEL", "\(prefix):host:\(other):meta"],
         ["PUBLISH", "\(prefix):cmd:\(other)", "drain"], ["PUBLISH", "other:cmd:x", "shed 5"],
         ["SUBSCRIBE", "\(prefix):cmd:\(other)"], ["SHUTDOWN"], ["CLIENT", "LIST"], ["MONITOR"]]
    }

    /// `up` with its own defaults for every address (an empty value reads as unset).
    static let defaults = ["LB_HOST": "", "BALANCER_HOST": "", "CLIENT_HOST": "", "DASHBOARD_HOST": ""]

    @Test("the traffic port carries only the WebSocket path and /health")
    func trafficPortCarriesOnlyTraffic() async throws {
        try await UpStack.with(Self.defaults) { stack in
            try await stack.api.connect(["alice"])
            try await stack.scenario.waitUntilSettled(["alice"], timeout: .seconds(20))
            let server = try #require(try await stack.api.topology().active.first)
            let lb = stack.ports.lb
            let bearer = ("Authorization", "Bearer \(stack.api.adminToken ?? "")")
            let attempts = [
                try await Self.attempt("list every user through the proxy", "GET", "/ws-session/all", port: lb),
                try await Self.attempt("… with the admin token", "GET", "/ws-session/all", port: lb, headers: [bearer]),
                try await Self.attempt("list a server's sessions", "GET", "/ws-session/all/runtime", port: lb),
                try await Self.attempt("shed a user on a server", "POST", "/ws-session/\(server.id)/drop", port: lb, headers: [bearer]),
                try await Self.attempt("read the servers' metrics", "GET", "/metrics", port: lb),
                try await Self.attempt("walk out of the WebSocket path", "GET", "/api/v1/websocket/../../ws-session/all", port: lb, headers: [bearer]),
                try await Self.attempt("an encoded walk out", "GET", "/api/v1/websocket/%2e%2e/%2e%2e/ws-session/all", port: lb, headers: [bearer]),
                try await Self.attempt("a double slash", "GET", "//ws-session/all", port: lb, headers: [bearer]),
            ]
            for attempt in attempts { print("attack up: \(attempt)") }
            #expect(attempts.map(\.status) == [404, 404, 404, 405, 404, 400, 400, 404], "\(attempts)")
            #expect(attempts.allSatisfy { !$0.body.contains("alice") }, "no attempt listed a user")
            let health = try await Self.attempt("health through the proxy", "GET", "/health", port: lb)
            #expect(health.status == 200, "\(health)")
            #expect(try await stack.api.clientStatus().allConnected(["alice"]), "alice was not shed")
        }
    }

    @Test("every mutating endpoint refuses no token, a wrong token, a foreign Origin and a form post; nothing changes")
    func mutationsNeedTheCredential() async throws {
        try await UpStack.with(Self.defaults) { stack in
            try await stack.api.connect(["bob"])
            try await stack.scenario.waitUntilSettled(["bob"], timeout: .seconds(20))
            let server = try #require(try await stack.api.topology().active.first)
            let serverPort = try #require(server.endpoint?.port)
            let token = try #require(stack.api.adminToken)
            let json = ("Content-Type", "application/json")
            let good = ("Authorization", "Bearer \(token)")
            let wrong = ("Authorization", "Bearer \(String(token.reversed()))")
            let evil = ("Origin", "http://evil.example")
            let targets: [(name: String, port: Int, path: String, body: String)] = [
                ("client simulator connect", stack.ports.client, "/route/kickstart/ws/batch/connect", #"{"userIds":["mallory"]}"#),
                ("client simulator disconnect", stack.ports.client, "/route/kickstart/ws/batch/disconnect", #"{"userIds":["bob"]}"#),
                ("dashboard connect", stack.ports.dashboard, "/api/connect", #"{"count":1,"prefix":"mallory"}"#),
                ("dashboard disconnect", stack.ports.dashboard, "/api/disconnect", #"{"userIds":["bob"]}"#),
                ("server drop", serverPort, "/ws-session/\(server.id)/drop", "{}"),
            ]
            var attempts: [(Attempt, Int)] = []
            for target in targets {
                attempts.append((try await Self.attempt("\(target.name), no token", "POST", target.path, port: target.port,
                                                        headers: [json], body: target.body), 401))
                attempts.append((try await Self.attempt("\(target.name), wrong token", "POST", target.path, port: target.port,
                                                        headers: [json, wrong], body: target.body), 401))
                attempts.append((try await Self.attempt("\(target.name), right token from a foreign Origin", "POST", target.path,
                                                        port: target.port, headers: [json, good, evil], body: target.body), 403))
                attempts.append((try await Self.attempt("\(target.name), right token as a form post", "POST", target.path,
                                                        port: target.port, headers: [("Content-Type", "text/plain"), good],
                                                        body: target.body), 415))
            }
            let reads: [(String, Int, String)] = [
                ("client simulator's user list", stack.ports.client, "/route/status"),
                ("dashboard's state (users)", stack.ports.dashboard, "/api/state"),
                ("server's session list", serverPort, "/ws-session/all"),
                ("server's live sessions", serverPort, "/ws-session/all/runtime"),
            ]
            for (name, port, path) in reads {
                attempts.append((try await Self.attempt("\(name), no token", "GET", path, port: port), 401))
            }
            for (attempt, _) in attempts { print("attack up: \(attempt)") }
            for (attempt, expected) in attempts {
                #expect(attempt.status == expected, "\(attempt)")
                #expect(!attempt.body.contains("\"userId\""), "a refused request listed users: \(attempt)")
            }
            let users = try await stack.api.clientStatus()
            #expect(users.users.map(\.userId) == ["bob"], "no user was added: \(users.users.map(\.userId))")
            #expect(users.allConnected(["bob"]), "bob was neither disconnected nor shed")
            // The page itself is open (it holds no secret) and the token works.
            #expect(try await Self.attempt("dashboard page", "GET", "/", port: stack.ports.dashboard).status == 200)
            #expect(try await Self.attempt("dashboard state with the token", "GET", "/api/state", port: stack.ports.dashboard,
                                           headers: [good]).status == 200)
        }
    }

    @Test("up binds every listener to 127.0.0.1 by default, and keeps its token in a 0600 file, off every command line")
    func loopbackAndSecretHygiene() async throws {
        try await UpStack.with(Self.defaults) { stack in
            let topology = try await stack.api.topology()
            var ports: Set<Int> = [stack.ports.lb, stack.ports.stats, stack.ports.redis, stack.ports.balancer,
                                   stack.ports.client, stack.ports.dashboard]
            ports.formUnion(topology.instances.compactMap { $0.endpoint?.port })
            let listeners = Self.tcpListeners()
            for port in ports.sorted() {
                let addresses = listeners[port] ?? []
                #expect(!addresses.isEmpty, "nothing listens on \(port)")
                #expect(addresses.allSatisfy { $0 == "127.0.0.1" }, "port \(port) listens on \(addresses)")
            }
            print("attack up: listeners \(ports.sorted().map { "\($0)@\(listeners[$0] ?? [])" })")

            var status = stat()
            #expect(stat(stack.adminTokenPath, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600, "admin-token mode \(String(status.st_mode & 0o777, radix: 8))")
            let token = try #require(stack.api.adminToken)
            var pids = [stack.upPid, stack.pid(of: .redis), stack.pid(of: .haproxy)].compactMap { $0 }
            pids += stack.serverPids().values
            for pid in pids {
                let commandLine = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                print("attack up: the admin token in pid \(pid)'s command line (\(commandLine.split(separator: "\0").first ?? "unreadable")) → \(commandLine.contains(token) ? "found" : "absent")")
                #expect(!commandLine.contains(token), "pid \(pid)'s command line holds the admin token")
            }
        }
    }

    @Test("Redis: nobody gets in without a user; a server's own user cannot flush, configure, script, write another host's keys or command it")
    func redisUsersHaveOnlyTheirRights() async throws {
        try await UpStack.with(Self.defaults) { stack in
            let aclPath = stack.stateDirectory + "/redis/users.acl"
            var status = stat()
            #expect(stat(aclPath, &status) == 0 && status.st_mode & 0o777 == 0o600, "users.acl is 0600")
            let acl = try #require(RedisACL.parse(try String(contentsOfFile: aclPath, encoding: .utf8), keyPrefix: "wsscale"))
            let redisPid = try #require(stack.pid(of: .redis))
            let commandLine = (try? String(contentsOfFile: "/proc/\(redisPid)/cmdline", encoding: .utf8)) ?? ""
            print("attack up redis: the balancer's Redis password in redis-server's command line (pid \(redisPid)) → \(commandLine.contains(acl.balancerPassword) ? "found" : "absent")")
            #expect(!commandLine.contains(acl.balancerPassword), "a password on redis-server's command line")
            // Each server logs in as its own user, which the balancer made when it launched it.
            let ids = try await stack.api.topology().instances.map(\.id)
            let own = try #require(ids.first)
            let other = "ws-other"
            let user = RedisServerUser(id: own, acl: acl)

            let logger = Logger(label: "attack")
            let group = MultiThreadedEventLoopGroup.singleton
            func answer(_ connection: RedisConnection, _ command: [String]) async -> String {
                do { return "\(try await connection.send(command))" } catch { return "\(error)" }
            }
            let anonymous = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: stack.ports.redis),
                                                              eventLoopGroup: group, logger: logger)
            var attempts: [(String, String)] = []
            for command in [["PING"], ["FLUSHALL"], ["PUBLISH", "wsscale:cmd:x", "shed 5"], ["KEYS", "*"]] {
                attempts.append(("no user: \(command.joined(separator: " "))", await answer(anonymous, command)))
            }
            await anonymous.close()
            #expect(attempts.allSatisfy { $0.1.contains("NOAUTH") }, "\(attempts)")

            let server = try await RedisConnection.connect(
                to: user.url(at: RedisURL(host: "127.0.0.1", port: stack.ports.redis)),
                eventLoopGroup: group, logger: logger)
            var refused: [(String, String)] = []
            for command in Self.refusedToAServer(prefix: "wsscale", other: other) {
                refused.append(("server user: \(command.joined(separator: " "))", await answer(server, command)))
            }
            let allowed = await answer(server, ["ZRANGEBYSCORE", "wsscale:hosts", "0", "+inf"])
            let readsOthers = await answer(server, ["HLEN", "wsscale:host:\(other):sessions"])
            let writesOwn = await answer(server, ["PEXPIRE", "wsscale:host:\(own):meta", "60000"])
            await server.close()
            // The balancer holds a user per running server, and no shared one.
            let balancer = try await RedisConnection.connect(to: acl.balancerURL(host: "127.0.0.1", port: stack.ports.redis),
                                                             eventLoopGroup: group, logger: logger)
            let users = await answer(balancer, ["ACL", "USERS"])
            await balancer.close()
            print("attack up redis: ACL USERS as the balancer → \(users)")
            for id in ids { #expect(users.contains(RedisServerUser(id: id, acl: acl).name), "\(id) has its own user: \(users)") }
            #expect(!users.contains("\"wsscale-server\""), "no shared server user: \(users)")
            for attempt in attempts + refused { print("attack up redis: \(attempt.0) → \(attempt.1.prefix(100))") }
            for (tried, got) in refused { #expect(got.contains("NOPERM"), "\(tried) → \(got)") }
            #expect(!allowed.contains("NOPERM") && !readsOthers.contains("NOPERM") && !writesOwn.contains("NOPERM"),
                    "a server's own reads and writes work: \(allowed) \(readsOthers) \(writesOwn)")
            #expect(try await stack.api.topology().instances.count >= 1, "the pool still runs")
        }
    }

    /// Listening TCP sockets (IPv4 and IPv6) by port, with their local addresses.
    static func tcpListeners() -> [Int: [String]] {
        var found: [Int: [String]] = [:]
        for (file, isV6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A" else { continue }
                let local = fields[1].split(separator: ":")
                guard local.count == 2, let port = Int(local[1], radix: 16) else { continue }
                found[port, default: []].append(address(String(local[0]), isV6: isV6))
            }
        }
        return found
    }

    private static func address(_ hex: String, isV6: Bool) -> String {
        if !isV6, let value = UInt32(hex, radix: 16) {
            return "\(value & 0xff).\(value >> 8 & 0xff).\(value >> 16 & 0xff).\(value >> 24)"
        }
        switch hex {
        case String(repeating: "0", count: 32): return "::"
        case "00000000000000000000000001000000": return "::1"
        case "0000000000000000FFFF00000100007F": return "127.0.0.1"
        default: return hex
        }
    }
}
}
