import Foundation
import Hummingbird
import Logging
import NIOCore
import WSScaleCore
import WSScaleListeners

/// The balancer's HTTP API (port 8488 by default).
///
/// - `GET /api/topology`: the pool as JSON (`PoolStatus`: servers with id, state, endpoint,
///   sessions, utilization, the proxy's view; overall utilization; recent decisions
///   with their reasons).
/// - `GET /metrics`: Prometheus text format.
/// - `GET /health`: 200 while the control loop reads the pool; 503 with the reason once it
///   has not for `BALANCER_STALL_SECONDS` (a stalled Redis, HAProxy or backend).
public struct BalancerAPI: Sendable {
    /// Where the API reads the pool's status from (the `Autoscaler`).
    public typealias StatusSource = @Sendable () async -> PoolStatus

    private let status: StatusSource
    /// The metrics `GET /metrics` serves; others may add to them (restarts of the local stack).
    public let metrics = BalancerMetrics()

    /// Creates the API over a status source.
    public init(status: @escaping StatusSource) {
        self.status = status
    }

    /// The routes, for an application or a test.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let status = self.status
        let metrics = self.metrics
        router.get("/api/topology") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let body = try encoder.encode(await status())
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            let text = metrics.render(await status())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/health") { _, _ -> Response in
            let current = await status()
            guard current.stalled else {
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
            }
            let reason = "stalled: the control loop has not read the pool for \(Int(current.secondsSinceObservation)) s"
                + (current.lastError.map { " (\($0))" } ?? "")
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                            body: .init(byteBuffer: ByteBuffer(string: reason)))
        }
        return router
    }

    /// An application serving the API, to run as a `Service`.
    /// - Parameters:
    ///   - host: the address to bind (`127.0.0.1` by default in the command).
    ///   - port: the port (8488 by default in the command).
    ///   - limits: the listener's limits (`HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS`).
    ///   - eventLoopGroup: the loops it runs on (NIO's shared ones by default; a test gives it its own).
    ///   - onServerRunning: called with the listening channel once it listens (its port when `port` is 0).
    ///   - logger: the logger for requests and errors.
    public func makeApplication(host: String, port: Int, limits: HTTPListenerLimits = HTTPListenerLimits(),
                                eventLoopGroup: EventLoopGroupProvider = .singleton,
                                onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
                                logger: Logger) -> some ApplicationProtocol {
        Application(router: makeRouter(),
                    server: .http1(within: limits, listener: "balancer API", logger: logger),
                    configuration: .init(address: .hostname(host, port: port), serverName: "wsscale-balancer",
                                         backlog: HTTPListenerLimits.backlog),
                    onServerRunning: onServerRunning, eventLoopGroupProvider: eventLoopGroup, logger: logger)
    }
}
