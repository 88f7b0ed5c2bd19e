import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WSScaleCore
import WSScaleServer
import WSScaleTestSupport

/// A `WebSocketServer` on a free loopback port with an in-memory store, run in a `ServiceGroup`
/// as `wsscale server` runs it.
struct TestServer {
    let server: WebSocketServer
    let store: InMemoryHostSessionStore
    let group: ServiceGroup
    let port: Int

    var serverId: String { server.configuration.serverId }

    /// Runs `body` against a fresh server, then shuts it down gracefully.
    static func with(maxConnections: Int = 30, grace: Duration = .seconds(5),
                     maxMessageBytes: Int = ServerConfiguration.defaultMaxMessageBytes,
                     pingInterval: Duration = .seconds(30), idleTimeout: Duration = .seconds(75),
                     httpLimits: HTTPListenerLimits = HTTPListenerLimits(),
                     eventLoopGroup: (any EventLoopGroup)? = nil, appUpstream: AppUpstream? = nil,
                     _ body: (TestServer) async throws -> Void) async throws {
        let serverId = ServerConfiguration.randomServerId()
        let store = InMemoryHostSessionStore(hostId: serverId)
        var configuration = ServerConfiguration(serverId: serverId, host: "127.0.0.1", port: 0,
                                                maxConnectionsPerHost: maxConnections, shutdownGrace: grace,
                                                redisURL: ServerConfiguration.inMemoryRegistryURL,
                                                maxMessageBytes: maxMessageBytes,
                                                adminToken: AdminToken(TestSupport.adminToken),
                                                pingInterval: pingInterval, idleTimeout: idleTimeout,
                                                httpLimits: httpLimits)
        configuration.appUpstream = appUpstream
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let server = WebSocketServer(configuration: configuration, store: store,
                                     eventLoopGroup: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: HostSessionStoreService(store: store)), .init(service: server)],
            logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let port = try await server.listeningAddress().port!
                try await body(TestServer(server: server, store: store, group: group, port: port))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Connects a WebSocket client as `userId`.
    func connect(_ userId: String, answersClose: Bool = true) async throws -> WebSocketTestClient {
        try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/\(userId)", answersClose: answersClose)
    }

    /// Connects a raw-frame client as `userId` (upgrade done, nothing sent yet).
    func connectRaw(_ userId: String) async throws -> RawWebSocketClient {
        try await RawWebSocketClient.connect(port: port, path: "/api/v1/websocket/\(userId)")
    }

    /// Sends a REST request.
    /// One request; it carries the admin token (unless `token` is nil) and, with a body and no
    /// `Content-Type` among `headers`, `Content-Type: application/json`.
    func http(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = [],
              token: String? = TestSupport.adminToken) async throws -> RawHTTPClient.Response {
        var headers = headers
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/json"))
        }
        return try await RawHTTPClient.request(method, path, port: port, headers: headers, body: body)
    }
}


