import Foundation
import NIOCore
import NIOHTTP1
import Testing
import WSScaleCore
@testable import WSScaleServer

@Suite("Session table (most idle first)")
struct SessionTableTests {
    private func entry(_ id: String, at time: Int64) -> SessionEntry<String> {
        SessionEntry(sessionId: id, userId: "u-\(id)", connectedAt: time, connection: id)
    }

    @Test("takes the most idle in order of last activity and never the same one twice")
    func mostIdle() {
        var table = SessionTable<String>()
        let entries = (0..<5).map { entry("s\($0)", at: Int64($0)) }
        for item in entries { table.insert(item) }
        table.touch(entries[0], at: 10)
        table.touch(entries[2], at: 11)
        #expect(table.entries.map(\.sessionId) == ["s1", "s3", "s4", "s0", "s2"])
        let rounds = [2, 2, 5, 1].map { table.takeMostIdle($0).map(\.sessionId) }
        #expect(rounds == [["s1", "s3"], ["s4", "s0"], ["s2"], []])
        #expect(table.count == 5)
        #expect(entries[0].lastActive == 10)
    }

    @Test("removes from the head, middle and tail; a removed entry is not touched back in")
    func removal() {
        var table = SessionTable<String>()
        let entries = (0..<4).map { entry("s\($0)", at: Int64($0)) }
        for item in entries { table.insert(item) }
        let removed = [0, 2, 3, 3].map { table.remove(entries[$0]) }
        #expect(removed == [true, true, true, false])
        table.touch(entries[3], at: 99)
        #expect(table.entries.map(\.sessionId) == ["s1"])
        #expect(table.count == 1)
        #expect(table.entry(sessionId: "s1") === entries[1])
        #expect(table.entry(sessionId: "s2") == nil)
        let marked = [1, 1, 0].map { table.markClosing(entries[$0]) }
        #expect(marked == [true, false, false])
    }
}

@Suite("HTTP routes")
struct HTTPRouteTests {
    @Test("routes the endpoints and refuses the rest with a status and reason", arguments: [
        (HTTPMethod.GET, "/health", HTTPRoute.health),
        (.GET, "/health?probe=1", .health),
        (.GET, "/ws-session/all", .allSessions),
        (.GET, "/ws-session/all/runtime", .runtimeSessions),
        (.GET, "/metrics", .metrics),
        (.POST, "/ws-session/ws-1/drop", .drop(hostId: "ws-1")),
        (.GET, "/api/v1/websocket/a.b_c@d-e", .webSocket(userId: "a.b_c@d-e")),
        (.GET, "/api/v1/websocket/", .rejected(.badRequest, reason: "user id is empty")),
        (.GET, "/api/v1/websocket", .rejected(.badRequest, reason: "user id is empty")),
        (.POST, "/health", .rejected(.methodNotAllowed, reason: "use GET for this endpoint")),
        (.GET, "/ws-session/ws-1/drop", .rejected(.methodNotAllowed, reason: "use POST for this endpoint")),
        (.GET, "/other", .rejected(.notFound, reason: "no such endpoint: /other")),
    ])
    func routes(method: HTTPMethod, uri: String, expected: HTTPRoute) {
        #expect(HTTPRoute(method: method, uri: uri) == expected)
    }

    @Test("user ids: 1-128 of [A-Za-z0-9._@-]")
    func userIds() {
        #expect(IdentifierRule.userId.problem(with: String(repeating: "x", count: 128)) == nil)
        #expect(IdentifierRule.userId.problem(with: String(repeating: "x", count: 129))?.contains("longer than 128") == true)
        #expect(IdentifierRule.userId.problem(with: "a b")?.contains("only letters") == true)
        #expect(IdentifierRule.userId.problem(with: "é")?.contains("only letters") == true)
        #expect(IdentifierRule.userId.problem(with: "") == "user id is empty")
    }

    @Test("drop bodies: empty, JSON with or without sessionId, or refused")
    func dropBodies() throws {
        func parse(_ text: String?) -> Result<String?, RESTEndpoints.BodyProblem> {
            RESTEndpoints.parseDropRequest(text.map { ByteBuffer(string: $0) })
        }
        #expect(try parse(nil).get() == nil)
        #expect(try parse(" \n").get() == nil)
        #expect(try parse("{}").get() == nil)
        #expect(try parse(#"{"sessionId":"abc"}"#).get() == "abc")
        for bad in ["[1]", #"{"sessionId":""}"#, #"{"sessionId":5}"#] {
            guard case .failure(let problem) = parse(bad) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(problem.message.contains("sessionId"))
        }
    }
}

@Suite("Server configuration from the environment")
struct ServerConfigurationTests {
    @Test("defaults")
    func defaults() throws {
        let configuration = try ServerConfiguration.read(environment: [:])
        #expect(configuration.serverId.hasPrefix("ws-") && configuration.serverId.count == 9)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8088)
        #expect(configuration.maxConnectionsPerHost == 30)
        #expect(configuration.shutdownGrace == .seconds(10))
        #expect(configuration.redisURL == "redis://127.0.0.1:6379/0")
        #expect(configuration.redisKeyPrefix == "wsscale")
        #expect(configuration.lease == .seconds(5))
        #expect(configuration.maxMessageBytes == 65536)
    }

    @Test("values from the environment win over .env")
    func values() throws {
        let configuration = try ServerConfiguration.read(environment: 
            ["SERVER_ID": "ws-a", "SERVER_PORT": "9000", "REDIS_URL": "memory://", "LEASE_SECONDS": "2.5"],
            dotEnv: "SERVER_PORT=1234\nMAX_CONNECTIONS_PER_HOST=7\nSHUTDOWN_GRACE_SECONDS=3\nMAX_MESSAGE_BYTES=1048576")
        #expect(configuration.serverId == "ws-a")
        #expect(configuration.port == 9000)
        #expect(configuration.maxConnectionsPerHost == 7)
        #expect(configuration.shutdownGrace == .seconds(3))
        #expect(configuration.redisURL == "memory://")
        #expect(configuration.lease == .milliseconds(2500))
        #expect(configuration.maxMessageBytes == 1 << 20)
    }

    @Test("every bad variable is named")
    func errors() {
        let environment = ["SERVER_ID": "bad id", "SERVER_PORT": "http", "MAX_CONNECTIONS_PER_HOST": "0",
                           "SHUTDOWN_GRACE_SECONDS": "-1", "REDIS_URL": "localhost:6379", "LEASE_SECONDS": "0",
                           "REDIS_KEY_PREFIX": "a b", "MAX_MESSAGE_BYTES": "124"]
        do {
            _ = try ServerConfiguration.read(environment: environment)
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            #expect(Set(error.issues.map(\.variable)) == Set(environment.keys))
        } catch {
            Issue.record("unexpected \(error)")
        }
        for bad in ["64k", "-1", "0", "1073741825"] {
            #expect(throws: ConfigurationError.self, "MAX_MESSAGE_BYTES=\(bad)") {
                try ServerConfiguration.read(environment: ["MAX_MESSAGE_BYTES": bad])
            }
        }
    }

    /// `wsscale server` exits 2 on any `ConfigurationError` (`CommandEnvironment`).
    @Test("REDIS_URL=rediss://… is refused at startup, naming REDIS_URL and saying TLS is not supported")
    func tlsRedisIsRefused() {
        do {
            _ = try ServerConfiguration.read(environment: ["REDIS_URL": "rediss://app:hunter2@redis.example:6380/0"])
            Issue.record("rediss:// was accepted")
        } catch let error as ConfigurationError {
            print("rediss rule (server): \(error.description)")
            #expect(error.issues.map(\.variable) == ["REDIS_URL"])
            #expect(error.issues.first?.message == RedisSchemeRule.tlsProblem)
            #expect(!error.description.contains("hunter2"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("Session list JSON")
struct SessionListJSONTests {
    @Test("decodes back to the same records, with odd characters escaped")
    func roundTrip() throws {
        let records = [
            SessionRecord(userId: "a\"b\\c\n\u{1}é", sessionId: "s-1", hostId: "ws-1", connectedAt: 1, lastActive: 2),
            SessionRecord(userId: "plain", sessionId: "s-2", hostId: "ws-2", connectedAt: 1_700_000_000_000,
                          lastActive: 1_700_000_000_001),
        ]
        let json = SessionListJSON.records(records)
        #expect(try JSONDecoder().decode([SessionRecord].self, from: Data(json.utf8)) == records)
        #expect(SessionListJSON.records([]) == "[]")
        let ids = ["x", "y\"z"]
        #expect(try JSONDecoder().decode([String].self, from: Data(SessionListJSON.strings(ids).utf8)) == ids)
    }
}
