import WSScaleTestSupport
import Foundation
import Testing
import WSScaleCore
import WSScaleServer

@Suite("REST endpoints on a real server")
struct RESTEndpointTests {
    @Test("GET /ws-session/all lists the registry, /ws-session/all/runtime this host's session ids")
    func listsSessions() async throws {
        try await TestServer.with { server in
            let a = try await server.connect("ann")
            let b = try await server.connect("ben")
            #expect(await TestSupport.eventually { server.store.records.count == 2 })

            let all = try await server.http("GET", "/ws-session/all")
            #expect(all.status == 200)
            #expect(all.header("Content-Type") == "application/json")
            let records = try JSONDecoder().decode([SessionRecord].self, from: Data(all.body.utf8))
            #expect(Set(records.map(\.userId)) == ["ann", "ben"])
            #expect(records.allSatisfy { $0.hostId == server.serverId })

            let runtime = try await server.http("GET", "/ws-session/all/runtime")
            #expect(runtime.status == 200)
            let ids = try JSONDecoder().decode([String].self, from: Data(runtime.body.utf8))
            #expect(Set(ids) == Set(records.map(\.sessionId)))
            try await a.close()
            try await b.close()
        }
    }

    @Test("POST /ws-session/{this host}/drop closes the chosen session, or the most idle, with 4001")
    func dropsOnThisHost() async throws {
        try await TestServer.with { server in
            let first = try await server.connect("first")
            let second = try await server.connect("second")
            #expect(await TestSupport.eventually { server.store.records.count == 2 })
            let secondId = try #require(server.store.records.first { $0.userId == "second" }?.sessionId)

            let chosen = try await server.http("POST", "/ws-session/\(server.serverId)/drop",
                                               body: #"{"sessionId": "\#(secondId)"}"#)
            #expect(chosen.status == 200)
            #expect(chosen.body.contains(secondId))
            #expect(try await within { await second.closeFrame() }?.code == 4001)

            let missing = try await server.http("POST", "/ws-session/\(server.serverId)/drop",
                                                body: #"{"sessionId": "no-such-session"}"#)
            #expect(missing.status == 404)
            #expect(missing.body.contains("no-such-session"))

            let mostIdle = try await server.http("POST", "/ws-session/\(server.serverId)/drop")
            #expect(mostIdle.status == 200)
            #expect(try await within { await first.closeFrame() }?.code == 4001)
            #expect(await TestSupport.eventually { server.store.records.isEmpty })

            let none = try await server.http("POST", "/ws-session/\(server.serverId)/drop")
            #expect(none.status == 404)
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="drop"} 2"#))
        }
    }

    @Test("POST /ws-session/{other host}/drop: a session the registry does not give that host is 404, unsent; a drop nobody got is 404 saying so")
    func dropsOnAnotherHost() async throws {
        try await TestServer.with { server in
            // The in-memory registry has no other host: it holds no session s-1 of ws-other, so
            // nothing is sent; and a drop of whichever session (shed 1) reaches nobody.
            let withId = try await server.http("POST", "/ws-session/ws-other/drop", body: #"{"sessionId":"s-1"}"#)
            #expect(withId.status == 404)
            #expect(withId.body.contains("host ws-other has no session s-1"), "\(withId.body)")
            let withoutId = try await server.http("POST", "/ws-session/ws-other/drop")
            #expect(withoutId.status == 404)
            #expect(withoutId.body.contains("no live host ws-other got the drop"), "\(withoutId.body)")
            let sent = server.store.sentToOtherHosts
            #expect(sent.map(\.host) == ["ws-other"])
            #expect(sent.map(\.command) == [.shed(count: 1)])
        }
    }

    @Test("bad REST requests get 4xx with a reason")
    func badRequests() async throws {
        try await TestServer.with { server in
            let badJSON = try await server.http("POST", "/ws-session/\(server.serverId)/drop", body: "{not json")
            #expect(badJSON.status == 400)
            #expect(badJSON.body.contains("sessionId"))
            let badHost = try await server.http("POST", "/ws-session/bad%host/drop")
            #expect(badHost.status == 400)
            #expect(badHost.body.contains("host id"))
            let wrongMethod = try await server.http("GET", "/ws-session/\(server.serverId)/drop")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.body.contains("POST"))
            let notFound = try await server.http("GET", "/nowhere")
            #expect(notFound.status == 404)
            let plainGet = try await server.http("GET", "/api/v1/websocket/alice")
            #expect(plainGet.status == 400)
            #expect(plainGet.body.contains("upgrade"))
            let tooLarge = try await server.http("POST", "/ws-session/\(server.serverId)/drop",
                                                 body: String(repeating: " ", count: 70_000))
            #expect(tooLarge.status == 413)
        }
    }

    @Test("GET /metrics has the gauge and every counter in Prometheus text")
    func metrics() async throws {
        try await TestServer.with(maxConnections: 1) { server in
            let kept = try await server.connect("kept")
            let refused = try await server.connect("refused")
            #expect(try await within { await refused.closeFrame() }?.code == 1013)
            let response = try await server.http("GET", "/metrics")
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
            for line in ["# TYPE wsscale_connections gauge", "wsscale_connections 1",
                         "wsscale_connections_opened_total 1", "wsscale_connections_refused_total 1",
                         "wsscale_connections_shed_total 0", #"wsscale_connections_closed_total{reason="client"} 0"#] {
                #expect(response.body.contains(line), "\(line)")
            }
            try await kept.close()
        }
    }

    @Test("the admin gate: session lists and drop need the token, a same origin and JSON; health and metrics stay open")
    func adminGate() async throws {
        try await TestServer.with { server in
            let client = try await server.connect("victim")
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            let drop = "/ws-session/\(server.serverId)/drop"
            for (what, response) in [
                ("list without a token", try await server.http("GET", "/ws-session/all", token: nil)),
                ("runtime list without a token", try await server.http("GET", "/ws-session/all/runtime", token: nil)),
                ("drop without a token", try await server.http("POST", drop, token: nil)),
                ("drop with a wrong token", try await server.http("POST", drop, token: "wrong-token-0123456789")),
            ] {
                #expect(response.status == 401, "\(what): \(response.status) \(response.body)")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true, "\(what)")
            }
            let foreign = try await server.http("POST", drop, headers: [("Origin", "http://evil.example")])
            #expect(foreign.status == 403)
            let form = try await server.http("POST", drop, body: "sessionId=x",
                                             headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(form.status == 415)
            #expect(try await server.http("GET", "/health", token: nil).status == 200)
            #expect(try await server.http("GET", "/metrics", token: nil).status == 200)
            #expect(server.store.records.count == 1, "a refused drop closed nobody")
            try await client.close()
        }
    }
}
