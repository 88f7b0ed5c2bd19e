import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import WSScaleCore

/// What the app answered when the front door opened a session's WebSocket to it.
enum AppDialOutcome {
    /// The app took the upgrade: its side of the session, and the subprotocol it chose.
    case connected(AppRelayHandler, subprotocol: String?)
    /// The app refused the upgrade: the client gets the same answer.
    case refused(AppRefusal)
}

/// An HTTP answer other than 101 from the app, passed on to the client as it came (the body cut
/// at ``AppRefusal/maxBodyBytes``).
struct AppRefusal: Sendable, Equatable {
    /// The app's status.
    var status: HTTPResponseStatus
    /// The app's `Content-Type`, if any.
    var contentType: String?
    /// The app's body, at most `maxBodyBytes`.
    var body: String

    /// The most of a refusal's body that is kept.
    static let maxBodyBytes = 4096

    /// The app could not be reached (502), or did not answer in time (504).
    static func unreachable(_ reason: String, timedOut: Bool = false) -> AppRefusal {
        AppRefusal(status: timedOut ? .gatewayTimeout : .badGateway, contentType: "text/plain; charset=utf-8",
                   body: reason + "\n")
    }
}

/// Opens a session's WebSocket to the app (`APP_UPSTREAM_URL`) on the client connection's own
/// event loop, so that the two connections of a session never cross threads; the handshake is
/// `AppHandshakeReader`'s.
///
/// The upgrade request carries the user's id (`X-WSScale-User-Id`), this server's id
/// (`X-WSScale-Host`), the client's address after those it named (`X-Forwarded-For`), the
/// client's subprotocols (`Sec-WebSocket-Protocol`) and the client headers
/// `APP_FORWARD_HEADERS` names. The app's connection reads into a fixed small buffer, as the
/// client's does, so an idle session costs two small connections.
struct AppUpstreamDialer: Sendable {
    /// Where the app is; its port must be known.
    let upstream: AppUpstream
    /// This server's id.
    let serverId: String
    /// Largest frame taken from the app.
    let maxFrameSize: Int
    /// Bytes the app's connection reads at once.
    let receiveBufferSize: Int

    /// Opens the app's side of a session.
    /// - Parameters:
    ///   - eventLoop: the client connection's event loop.
    ///   - userId: the session's user.
    ///   - request: the client's upgrade request.
    ///   - clientAddress: the client's address, as the server sees it.
    /// - Returns: the outcome; never fails (an unreachable app is a 502 or 504 refusal).
    func dial(on eventLoop: any EventLoop, userId: String, request: HTTPRequestHead,
              clientAddress: SocketAddress?) -> EventLoopFuture<AppDialOutcome> {
        let head = upgradeRequest(userId: userId, client: request, clientAddress: clientAddress)
        let outcome = FirstOutcome(eventLoop.makePromise(of: AppDialOutcome.self), eventLoop: eventLoop)
        let timeout = TimeAmount(upstream.connectTimeout)
        let port = upstream.port ?? 0
        let maxFrameSize = self.maxFrameSize
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: receiveBufferSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AppHandshakeReader(request: head, maxFrameSize: maxFrameSize) { outcome.complete($0) })
                }
            }
        let connected: EventLoopFuture<Channel>
        if let address = try? SocketAddress(ipAddress: upstream.host, port: port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: upstream.host, port: port)
        }
        let target = "\(upstream.host):\(port)"
        connected.whenSuccess { channel in
            // The whole upgrade within the timeout, or the client gets 504.
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                outcome.complete(.refused(.unreachable("the app at \(target) did not answer the upgrade in time",
                                                       timedOut: true)))
                channel.close(promise: nil)
            }
            outcome.futureResult.whenComplete { _ in deadline.cancel() }
        }
        connected.whenFailure { error in
            outcome.complete(.refused(.unreachable("cannot connect to the app at \(target): \(error)")))
        }
        return outcome.futureResult
    }

    /// The request the app gets.
    func upgradeRequest(userId: String, client: HTTPRequestHead, clientAddress: SocketAddress?) -> HTTPRequestHead {
        let query = client.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: upstream.port.map { "\(upstream.host):\($0)" } ?? upstream.host)
        headers.add(name: "X-WSScale-User-Id", value: userId)
        headers.add(name: "X-WSScale-Host", value: serverId)
        var forwardedFor = client.headers["x-forwarded-for"]
        if let ip = clientAddress?.ipAddress { forwardedFor.append(ip) }
        if !forwardedFor.isEmpty { headers.add(name: "X-Forwarded-For", value: forwardedFor.joined(separator: ", ")) }
        for value in client.headers["sec-websocket-protocol"] { headers.add(name: "Sec-WebSocket-Protocol", value: value) }
        for name in upstream.forwardedHeaders {
            for value in client.headers[name] { headers.add(name: name, value: value) }
        }
        headers.add(name: "Content-Length", value: "0")
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: upstream.target(userId: userId, query: query),
                               headers: headers)
    }
}

/// A promise that takes the first of several outcomes that race (the app's answer, the
/// deadline, a failed connect) and ignores the rest. Used on its event loop only.
private final class FirstOutcome: @unchecked Sendable {
    private let promise: EventLoopPromise<AppDialOutcome>
    private let eventLoop: any EventLoop
    private var completed = false

    init(_ promise: EventLoopPromise<AppDialOutcome>, eventLoop: any EventLoop) {
        self.promise = promise
        self.eventLoop = eventLoop
    }

    var futureResult: EventLoopFuture<AppDialOutcome> { promise.futureResult }

    func complete(_ outcome: AppDialOutcome) {
        eventLoop.preconditionInEventLoop()
        guard !completed else {
            // A late app connection that no session will use.
            if case .connected(let relay, _) = outcome { relay.close(code: 1001, reason: "client gone") }
            return
        }
        completed = true
        promise.succeed(outcome)
    }
}
