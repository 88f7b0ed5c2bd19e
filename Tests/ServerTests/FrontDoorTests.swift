import Foundation
import NIOCore
import NIOPosix
import Testing
import WSScaleCore
@testable import WSScaleServer
import WSScaleTestSupport

/// The front door (`APP_UPSTREAM_URL`): a real server relaying to a real WebSocket app
/// (`TestWebSocketApp`), both on loopback.
@Suite("front door: the server in front of an app", .timeLimit(.minutes(2)))
struct FrontDoorTests {
    /// Runs `body` with an app and a server in front of it.
    private func withFrontDoor(maxConnections: Int = 30,
                               _ body: (TestServer, TestWebSocketApp) async throws -> Void) async throws {
        let app = try await TestWebSocketApp.start()
        defer { Task { await app.stop() } }
        var upstream = try AppUpstream.parse("ws://127.0.0.1:\(app.port)/ws/{userId}").get()
        upstream.forwardedHeaders = ["cookie", "authorization"]
        try await TestServer.with(maxConnections: maxConnections, appUpstream: upstream) { server in
            try await body(server, app)
        }
    }

    /// An upgrade request whose answer is read as plain HTTP (a refusal).
    private static func upgradeRequest(_ userId: String, port: Int) async throws -> RawHTTPClient.Response {
        try await RawHTTPClient.request("GET", "/api/v1/websocket/\(userId)", port: port,
                                        headers: [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                  ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")])
    }

    @Test("frames pass both ways as they came: text, binary, fragments, and pings from either side")
    func framesPassThrough() async throws {
        try await withFrontDoor { server, app in
            let client = try await server.connectRaw("alice")
            try await client.send([.text("hel", fin: false), .continuation("lo")])
            #expect(try await client.nextFrame() == .init(fin: false, opcode: 0x1, payload: Array("hel".utf8)))
            #expect(try await client.nextFrame() == .init(fin: true, opcode: 0x0, payload: Array("lo".utf8)))
            try await client.send([.binary([0, 1, 2, 255])])
            #expect(try await client.nextFrame() == .init(fin: true, opcode: 0x2, payload: [0, 1, 2, 255]))
            // The client's ping is the app's to answer.
            try await client.send([.ping("p1")])
            #expect(try await client.nextFrame() == .init(fin: true, opcode: 0xA, payload: Array("p1".utf8)))

            let pinged = try await server.connectRaw("ping-bob")
            #expect(try await pinged.nextFrame() == .init(fin: true, opcode: 0x9, payload: Array("from-app".utf8)))
            try await pinged.send([.pong("from-app")])
            try await TestSupport.waitUntil("the app got the client's pong") {
                app.events.contains(.pong(userId: "ping-bob", payload: "from-app"))
            }
            #expect(server.server.liveSessionCount == 2)
        }
    }

    @Test("the app learns the user, the server, the client's address, its subprotocols and the named headers")
    func whatTheAppLearns() async throws {
        try await withFrontDoor { server, app in
            let client = try await RawWebSocketClient.connect(
                port: server.port, path: "/api/v1/websocket/carol?room=7",
                headers: ["Sec-WebSocket-Protocol: chat.v1, chat.v2", "Cookie: sid=42", "Authorization: Bearer t0k",
                          "X-Forwarded-For: 203.0.113.9", "X-Secret: not-for-the-app", "X-WSScale-User-Id: mallory"])
            #expect(client.upgradeHead.lowercased().contains("sec-websocket-protocol: chat.v2"))
            let upgrade = try #require(app.events.compactMap { event -> (String, [String: String])? in
                if case .upgrade(let userId, let uri, let headers) = event, userId == "carol" { return (uri, headers) }
                return nil
            }.first)
            #expect(upgrade.0 == "/ws/carol?room=7")
            let headers = upgrade.1
            #expect(headers["x-wsscale-user-id"] == "carol")
            #expect(headers["x-wsscale-host"] == server.serverId)
            #expect(headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1")
            #expect(headers["sec-websocket-protocol"] == "chat.v1, chat.v2")
            #expect(headers["cookie"] == "sid=42")
            #expect(headers["authorization"] == "Bearer t0k")
            #expect(headers["x-secret"] == nil)
            _ = client
        }
    }

    @Test("an app that refuses the upgrade: the client gets the app's status and body, and no session is counted")
    func refusal() async throws {
        try await withFrontDoor { server, _ in
            let response = try await Self.upgradeRequest("refuse-dave", port: server.port)
            #expect(response.status == 403)
            #expect(response.body.contains("no entry"))
            #expect(server.server.liveSessionCount == 0)
            #expect(try await server.store.allSessions().isEmpty)
        }
    }

    @Test("an app that cannot be reached: 502 with a reason")
    func unreachable() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let upstream = try AppUpstream.parse("ws://127.0.0.1:\(port)/ws/{userId}").get()
        try await TestServer.with(appUpstream: upstream) { server in
            let response = try await Self.upgradeRequest("erin", port: server.port)
            #expect(response.status == 502)
            #expect(response.body.contains("cannot connect to the app"))
            #expect(server.server.liveSessionCount == 0)
        }
    }

    @Test("an app that answers the upgrade with something else than WebSocket: 502 with a reason", arguments: [
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
    ])
    func notAWebSocketApp(_ answer: String) async throws {
        let fake = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.pipeline.addHandler(FixedAnswer(answer)) }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { fake.close(promise: nil) }
        let upstream = try AppUpstream.parse("ws://127.0.0.1:\(fake.localAddress!.port!)/ws/{userId}").get()
        try await TestServer.with(appUpstream: upstream) { server in
            let response = try await Self.upgradeRequest("oscar", port: server.port)
            #expect(response.status == 502)
            #expect(response.body.contains("the app"), "\(response.body)")
            #expect(server.server.liveSessionCount == 0)
        }
    }

    @Test("close codes pass through: the app's reaches the client, the client's reaches the app")
    func closeCodesPassThrough() async throws {
        try await withFrontDoor { server, app in
            let byeClient = try await server.connect("bye-frank")
            let fromApp = await byeClient.closeFrame()
            #expect(fromApp?.code == 4100)
            #expect(fromApp?.reason == "app says bye")

            let client = try await server.connect("grace")
            try await client.close(code: .init(codeNumber: 4005))
            try await TestSupport.waitUntil("the app got the client's close code") {
                app.events.contains(.closeFrame(userId: "grace", code: 4005, reason: ""))
            }
            try await TestSupport.waitUntil("both sessions are gone") { server.server.liveSessionCount == 0 }
        }
    }

    @Test("a shed closes both sides with 4001, and the app can tell it apart")
    func shedClosesBothSides() async throws {
        try await withFrontDoor { server, app in
            let client = try await server.connect("heidi")
            server.store.deliver(.shed(count: 1))
            let close = await client.closeFrame()
            #expect(close?.code == 4001)
            try await TestSupport.waitUntil("the app got 4001") {
                app.events.contains(.closeFrame(userId: "heidi", code: 4001, reason: "Server Rebalancing"))
            }
            #expect(server.server.liveSessionCount == 0)
        }
    }

    @Test("a client that vanishes leaves the app 1001 'client gone'")
    func clientVanishes() async throws {
        try await withFrontDoor { server, app in
            let client = try await server.connectRaw("ivan")
            await client.close()
            try await TestSupport.waitUntil("the app got 1001") {
                app.events.contains(.closeFrame(userId: "ivan", code: 1001, reason: "client gone"))
            }
        }
    }

    @Test("an app that ignores close frames: its connection is cut after the close handshake time; the session is gone at once")
    func appIgnoresClose() async throws {
        try await withFrontDoor { server, app in
            let client = try await server.connect("ignore-judy")
            server.store.deliver(.shed(count: 1))
            #expect(await client.closeFrame()?.code == 4001)
            #expect(server.server.liveSessionCount == 0)
            try await TestSupport.waitUntil("the app got the close frame") {
                app.events.contains(.closeFrame(userId: "ignore-judy", code: 4001, reason: "Server Rebalancing"))
            }
            let shed = ContinuousClock.now
            try await TestSupport.waitUntil("the server cut the app's connection") {
                app.events.contains(.disconnected(userId: "ignore-judy"))
            }
            // Cut by the server's timer (3 s), not by the app: the app never closes it.
            #expect(ContinuousClock.now - shed < .seconds(6))
        }
    }

    @Test("an app that floods a client that does not read: the server holds a bounded amount, and nothing is lost")
    func floodIsBounded() async throws {
        try await withFrontDoor { server, app in
            let client = try await RawWebSocketClient.connect(port: server.port, path: "/api/v1/websocket/flood-kim",
                                                              receiveBuffer: 4096)
            try await client.setReading(false)
            // The app writes until its own connection stops taking bytes: the server stopped reading it.
            try await TestSupport.waitUntil("the app is held back") {
                if let flood = app.flood("flood-kim"), !flood.writable, flood.sent > 0 { return true }
                return false
            }
            let channel = try #require(server.server.sessionChannels.first)
            let pending = try await channel.getOption(.bufferedWritableBytes).get()
            #expect(pending <= 64 * 1024 + 2 * 1024, "the server holds \(pending) bytes for a client that does not read")
            let sent = try #require(app.flood("flood-kim")).sent
            // The client reads again: every frame the app had sent up to then arrives.
            try await client.setReading(true)
            for index in 0..<sent {
                let frame = try #require(try await client.nextFrame(), "frame \(index) of \(sent)")
                #expect(frame.opcode == 0x1 && frame.payload.count == 1024)
            }
        }
    }

    @Test("a session over the hard limit gets 1013 and never reaches the app")
    func hardLimitBeforeTheApp() async throws {
        try await withFrontDoor(maxConnections: 1) { server, app in
            let first = try await server.connect("liam")
            let second = try await server.connect("mia")
            #expect(await second.closeFrame()?.code == 1013)
            let upgrades = app.events.filter { if case .upgrade = $0 { return true } else { return false } }
            #expect(upgrades.count == 1)
            _ = first
        }
    }
}

/// `APP_UPSTREAM_URL` and its companions: what is accepted, what is refused with a reason.
@Suite("front door settings")
struct AppUpstreamSettingsTests {
    @Test("a ws:// URL with {port} and {userId} parses; the target carries the client's query")
    func parses() throws {
        let upstream = try AppUpstream.parse("ws://127.0.0.1:{port}/ws/{userId}").get()
        #expect(upstream.port == nil)
        #expect(upstream.resolvingPort(9000).port == 9000)
        #expect(upstream.target(userId: "ann", query: "a=1") == "/ws/ann?a=1")
        #expect(upstream.target(userId: "ann", query: nil) == "/ws/ann")
        #expect(try AppUpstream.parse("ws://[::1]:81/").get() == AppUpstream(host: "::1", port: 81, pathTemplate: "/"))
    }

    @Test("bad values stop startup naming the variable")
    func badValues() {
        for (url, words) in [("http://x:1/", "must be ws://"), ("wss://x:1/", "not supported"), ("ws://x/", "port"),
                             ("ws://x:0/", "1-65535"), ("ws://:80/", "host"), ("ws://x:80/a?b", "no query")] {
            var reader = EnvironmentReader(environment: ["APP_UPSTREAM_URL": url])
            _ = AppUpstream.read(from: &reader)
            #expect(throws: ConfigurationError.self) { try reader.finish() }
            #expect(reader.issues.contains { $0.variable == "APP_UPSTREAM_URL" && $0.message.contains(words) },
                    "\(url): \(reader.issues)")
        }
        var reader = EnvironmentReader(environment: ["APP_UPSTREAM_URL": "ws://a:1/", "APP_FORWARD_HEADERS": "Cookie, Host"])
        _ = AppUpstream.read(from: &reader)
        #expect(reader.issues.contains { $0.variable == "APP_FORWARD_HEADERS" })
    }

    @Test("the handshake's pure parts: RFC 6455's accept example, base64, an answer head")
    func handshakeParts() throws {
        #expect(AppHandshakeReader.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(AppHandshakeReader.base64(Array("f".utf8)) == "Zg==")
        #expect(AppHandshakeReader.base64(Array("fo".utf8)) == "Zm8=")
        #expect(AppHandshakeReader.base64(Array("foo".utf8)) == "Zm9v")
        #expect(AppHandshakeReader.randomKey().count == 24)
        let head = try #require(AppHandshakeReader.parseHead(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol:  chat.v2 \r\n\r\n"))
        #expect(head.status == 101)
        #expect(head.first("upgrade") == "websocket")
        #expect(head.first("sec-websocket-protocol") == "chat.v2")
        for broken in ["SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 99 x\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "\r\n\r\n"] {
            #expect(AppHandshakeReader.parseHead(broken) == nil, "\(broken)")
        }
    }

    @Test("without APP_UPSTREAM_URL the server echoes")
    func absent() throws {
        var reader = EnvironmentReader(environment: [:])
        #expect(AppUpstream.read(from: &reader) == nil)
        try reader.finish()
    }
}

/// Answers whatever comes with fixed bytes, then closes: an app that does not speak WebSocket.
private final class FixedAnswer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let answer: String

    init(_ answer: String) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: answer))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
