/// Why a simulated user's WebSocket connection (or attempt to open one) ended.
public enum ConnectionEnd: Sendable, Equatable {
    /// The server sent a close frame with this code and reason (1005 when it sent no code).
    case closedByServer(code: UInt16, reason: String)
    /// The TCP connection ended without a close frame (close code 1006).
    case abnormal
    /// Nothing came from the server for this long, not even a pong to the client's ping: the
    /// client gave the connection up (close code 1006). A server, or a proxy, on a host that
    /// vanished sends no reset, and the connection would otherwise look open for good.
    case silent(Duration)
    /// The TCP connection or the HTTP upgrade could not be made (refused, timed out, reset).
    case connectFailed(String)
    /// The server answered the upgrade request with this HTTP status instead of 101.
    case upgradeRefused(status: Int)
    /// The client closed the connection itself (close code 1000).
    case closedByClient

    /// The WebSocket close code this end is reported with, if it has one.
    public var closeCode: UInt16? {
        switch self {
        case .closedByServer(let code, _): return code
        case .abnormal, .silent: return WebSocketCloseCode.abnormal
        case .closedByClient: return WebSocketCloseCode.normal
        case .connectFailed, .upgradeRefused: return nil
        }
    }

    /// The close reason sent by the server, or a description of the failure.
    public var detail: String {
        switch self {
        case .closedByServer(_, let reason): return reason
        case .abnormal: return "connection lost without a close frame"
        case .silent(let duration): return "nothing heard from the server for \(duration), not even a pong: given up"
        case .connectFailed(let message): return message
        case .upgradeRefused(let status): return "upgrade refused with HTTP \(status)"
        case .closedByClient: return "closed by the client"
        }
    }
}

/// The WebSocket close codes the client simulator distinguishes.
public enum WebSocketCloseCode {
    /// 1000: normal closure (an intentional disconnect).
    public static let normal: UInt16 = 1000
    /// 1001: going away (the server shuts down or drains).
    public static let goingAway: UInt16 = 1001
    /// 1005: the close frame carried no code.
    public static let noStatus: UInt16 = 1005
    /// 1006: the connection ended without a close frame.
    public static let abnormal: UInt16 = 1006
    /// 1013: try again later (the server is at its hard connection limit).
    public static let tryAgainLater: UInt16 = 1013
    /// 4001: server rebalancing (the server sheds this session so it reconnects elsewhere).
    public static let rebalancing: UInt16 = 4001
    /// 4002: replaced by a newer session (the same user connected again to that server).
    public static let replaced: UInt16 = 4002
}
