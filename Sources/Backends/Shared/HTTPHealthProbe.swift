import NIOCore
import NIOHTTP1
import NIOPosix
import WSScaleCore

/// A small HTTP/1.1 client that asks one endpoint for one path and reports the status code.
///
/// Each request uses its own connection (`Connection: close`) and never blocks a thread:
/// it runs on a SwiftNIO event loop. Every backend uses it to tell when a server is up.
public struct HTTPHealthProbe: Sendable {
    /// How long one request may take, connecting included.
    public var requestTimeout: Duration
    /// How long `waitUntilUp` waits between two attempts.
    public var pollInterval: Duration
    private let eventLoopGroup: any EventLoopGroup

    /// Creates a probe.
    /// - Parameters:
    ///   - requestTimeout: how long one request may take, connecting included.
    ///   - pollInterval: pause between two attempts of `waitUntilUp`.
    ///   - eventLoopGroup: where the connections run.
    public init(requestTimeout: Duration = .seconds(1),
                pollInterval: Duration = .milliseconds(50),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.requestTimeout = requestTimeout
        self.pollInterval = pollInterval
        self.eventLoopGroup = eventLoopGroup
    }

    /// Whether a `/health` status means the server is up: 200 (has room) or 503 (full but alive).
    public static func isUp(_ status: Int?) -> Bool {
        status == 200 || status == 503
    }

    /// Sends `GET path` to the endpoint.
    /// - Parameters:
    ///   - endpoint: where to connect.
    ///   - path: the request target, `/health` by default.
    ///   - timeout: overrides `requestTimeout` for this request.
    /// - Returns: the response's status code, or `nil` when nothing answered in time.
    public func get(_ endpoint: Endpoint, path: String = "/health", timeout: Duration? = nil) async -> Int? {
        let loop = eventLoopGroup.next()
        let status = loop.makePromise(of: Int.self)
        let limit = TimeAmount(timeout ?? requestTimeout)
        let timer = loop.scheduleTask(in: limit) {
            status.fail(ChannelError.connectTimeout(limit))
        }
        defer { timer.cancel() }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseStatusHandler(status: status))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            status.fail(error)
            return nil
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: endpoint.description)
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let code = try? await status.futureResult.get()
        channel.close(promise: nil)
        return code
    }

    /// Polls `GET /health` every `pollInterval` until the server is up (200 or 503).
    /// - Parameters:
    ///   - endpoint: where the server listens.
    ///   - timeout: how long to keep trying.
    ///   - stillWorthWaiting: asked before every attempt; returning `false` (the process
    ///     exited, the container died) stops the wait early.
    /// - Returns: `true` once the server answered, `false` after `timeout` or when waiting
    ///   stopped being worth it.
    public func waitUntilUp(_ endpoint: Endpoint, timeout: Duration,
                            stillWorthWaiting: @Sendable () async -> Bool = { true }) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            guard await stillWorthWaiting() else { return false }
            let remaining = clock.now.duration(to: deadline)
            if Self.isUp(await get(endpoint, timeout: min(requestTimeout, remaining))) {
                return true
            }
            if Task.isCancelled { return false }
            try? await Task.sleep(for: min(pollInterval, clock.now.duration(to: deadline)))
        }
        return false
    }
}

/// Completes a promise with the status of the first response head, then closes.
private final class ResponseStatusHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let status: EventLoopPromise<Int>

    init(status: EventLoopPromise<Int>) {
        self.status = status
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            status.succeed(Int(head.status.code))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        status.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        status.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
