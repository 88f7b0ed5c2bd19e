import Logging
import NIOConcurrencyHelpers
import NIOCore

/// At most `maximum` connections on one listener. A connection over the bound does not wait
/// and is not refused: the oldest connection on the books is closed to make room. A slow
/// client that holds connections open (slowloris) is thus pushed out by newer ones instead of
/// locking them out, and the listener's memory stays bounded.
///
/// A connection is on the books from ``ConnectionBoundHandler``'s `handlerAdded` until its
/// `handlerRemoved`: removing the handler (as the WebSocket server does after an upgrade)
/// takes a connection off the books without closing it.
public final class ConnectionBound: Sendable {
    /// Connections held at once.
    public let maximum: Int
    private let listener: String
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var nextTicket: UInt64 = 0
        var open: [UInt64: any Channel] = [:]
        var evicted = 0
    }

    /// Creates a bound.
    /// - Parameters:
    ///   - maximum: connections held at once (at least 1).
    ///   - listener: the listener's name, for the log.
    ///   - logger: where evictions are logged (the first, then every 1,000th).
    public init(maximum: Int, listener: String, logger: Logger) {
        self.maximum = max(1, maximum)
        self.listener = listener
        self.logger = logger
    }

    /// Connections on the books now.
    public var count: Int { state.withLockedValue { $0.open.count } }

    /// Connections closed to make room so far.
    public var evictions: Int { state.withLockedValue { $0.evicted } }

    /// Books `channel`, closing the oldest connection if the bound is passed.
    /// - Returns: the ticket that ``release(_:)`` takes.
    func admit(_ channel: any Channel) -> UInt64 {
        let (ticket, oldest, evicted) = state.withLockedValue { state -> (UInt64, (any Channel)?, Int) in
            let ticket = state.nextTicket
            state.nextTicket += 1
            var oldest: (any Channel)?
            if state.open.count >= maximum, let first = state.open.keys.min() {
                oldest = state.open.removeValue(forKey: first)
                state.evicted += 1
            }
            state.open[ticket] = channel
            return (ticket, oldest, state.evicted)
        }
        if let oldest {
            oldest.close(promise: nil)
            if evicted == 1 || evicted % 1000 == 0 {
                logger.warning("too many HTTP connections: closed the oldest to make room",
                               metadata: ["listener": "\(listener)", "limit": "\(maximum)", "closedSoFar": "\(evicted)"])
            }
        }
        return ticket
    }

    /// Takes a connection off the books.
    func release(_ ticket: UInt64) {
        state.withLockedValue { _ = $0.open.removeValue(forKey: ticket) }
    }
}

/// Keeps one connection on a ``ConnectionBound``'s books while it is in the pipeline; passes
/// everything through.
public final class ConnectionBoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let bound: ConnectionBound
    private var ticket: UInt64?

    /// - Parameter bound: the listener's bound.
    public init(bound: ConnectionBound) {
        self.bound = bound
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        ticket = bound.admit(context.channel)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if let ticket { bound.release(ticket) }
        ticket = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}
