import HummingbirdCore
import Logging
import NIOCore
import WSScaleCore

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1 server within wsscale's listener limits: a connection that sends no
    /// request for `requestTimeout` (from its connect, or from its last answer) is closed, which
    /// covers headers trickled a byte at a time since Hummingbird sees no request until the head
    /// is whole; and a ``ConnectionBound`` of `maxConnections` closes the oldest connection to make
    /// room for a new one.
    /// - Parameters:
    ///   - limits: the listener's limits.
    ///   - listener: the listener's name, for the log.
    ///   - logger: where evictions are logged.
    public static func http1(within limits: HTTPListenerLimits, listener: String, logger: Logger) -> HTTPServerBuilder {
        let bound = ConnectionBound(maximum: limits.maxConnections, listener: listener, logger: logger)
        return .http1(configuration: .init(additionalChannelHandlers: [ConnectionBoundHandler(bound: bound)],
                                           idleTimeout: TimeAmount(limits.requestTimeout)))
    }
}
