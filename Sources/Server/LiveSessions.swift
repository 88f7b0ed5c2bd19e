import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import WSScaleCore

/// The server asks a session's channel to close itself with a close frame (an outbound user event).
struct ServerInitiatedClose: Sendable {
    /// The close code sent to the client.
    var code: WebSocketErrorCode
    /// The close reason sent to the client.
    var reason: String
    /// What the metrics count it as.
    var cause: SessionCloseReason

    static let shed = ServerInitiatedClose(code: .init(codeNumber: 4001), reason: "Server Rebalancing", cause: .shed)
    static let drop = ServerInitiatedClose(code: .init(codeNumber: 4001), reason: "Server Rebalancing", cause: .drop)
    static let shutdown = ServerInitiatedClose(code: .goingAway, reason: "going away", cause: .shutdown)
}

/// The outcome of asking to open a session.
enum Admission {
    /// The session is in the table and the registry.
    case admitted(LiveSessions.Entry)
    /// The connection must be closed at once with this code and reason.
    case refused(code: WebSocketErrorCode, reason: String)
}

/// This server's live sessions: the in-memory table, the registry writes and the metrics,
/// kept in step. Shared by every connection; safe from any thread.
final class LiveSessions: @unchecked Sendable {
    /// A session in the table; its connection is the session's channel.
    typealias Entry = SessionEntry<Channel>

    private struct State {
        var table = SessionTable<Channel>()
        var nextSessionNumber: UInt64 = 0
        var draining = false
        var shuttingDown = false
    }

    /// This server's id.
    let hostId: InstanceID
    private let maxSessions: Int
    private let store: any HostSessionStore
    let metrics: ServerMetrics
    private let logger: Logger
    /// Starts every session id of this process, so ids stay unique across restarts.
    private let sessionIdPrefix = RandomToken.make(length: 6) + "-"
    private let state = NIOLockedValueBox(State())

    init(hostId: InstanceID, maxSessions: Int, store: any HostSessionStore, metrics: ServerMetrics, logger: Logger) {
        self.hostId = hostId
        self.maxSessions = maxSessions
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// Milliseconds since 1970, now.
    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// Opens a session for `userId` on `channel`, or says why it must be refused (hard limit, shutdown).
    func admit(userId: String, channel: Channel) -> Admission {
        let now = Self.now()
        let outcome: Admission = state.withLockedValue { state in
            if state.shuttingDown { return .refused(code: .goingAway, reason: "going away") }
            if state.table.count >= maxSessions {
                return .refused(code: .init(codeNumber: 1013), reason: "try again later")
            }
            state.nextSessionNumber += 1
            let sessionId = sessionIdPrefix + String(state.nextSessionNumber, radix: 36)
            let entry = Entry(sessionId: sessionId, userId: userId, connectedAt: now, connection: channel)
            state.table.insert(entry)
            return .admitted(entry)
        }
        switch outcome {
        case .admitted(let entry):
            store.sessionOpened(SessionRecord(userId: userId, sessionId: entry.sessionId, hostId: hostId,
                                              connectedAt: now, lastActive: now))
            metrics.opened.increment()
            metrics.connections.increment()
            logger.debug("session opened", metadata: ["sessionId": "\(entry.sessionId)", "userId": "\(userId)"])
        case .refused(let code, let reason):
            if code != .goingAway { metrics.refused.increment() }
            logger.debug("session refused", metadata: ["userId": "\(userId)", "reason": "\(reason)"])
        }
        return outcome
    }

    /// Records a message from the client.
    func touch(_ entry: Entry) {
        let now = Self.now()
        state.withLockedValue { $0.table.touch(entry, at: now) }
        store.sessionTouched(sessionId: entry.sessionId, at: now)
    }

    /// Removes a session whose channel closed.
    func closed(_ entry: Entry, cause: SessionCloseReason) {
        let removed = state.withLockedValue { $0.table.remove(entry) }
        guard removed else { return }
        store.sessionClosed(sessionId: entry.sessionId)
        metrics.recordClosed(cause)
        logger.debug("session closed", metadata: ["sessionId": "\(entry.sessionId)", "cause": "\(cause.rawValue)"])
    }

    /// Closes the `count` most idle sessions with 4001; returns how many were chosen.
    @discardableResult
    func shed(_ count: Int) -> Int {
        let chosen = state.withLockedValue { $0.table.takeMostIdle(count) }
        for entry in chosen { entry.connection.triggerUserOutboundEvent(ServerInitiatedClose.shed, promise: nil) }
        if !chosen.isEmpty { metrics.shed.increment(by: Int64(chosen.count)) }
        logger.info("shed sessions", metadata: ["asked": "\(count)", "closing": "\(chosen.count)"])
        return chosen.count
    }

    /// Closes one session with 4001: the one with `sessionId`, or the most idle when `nil`.
    /// Returns the id of the session closed, or `nil` when there is no such session.
    func drop(sessionId: String?) -> String? {
        let chosen: Entry? = state.withLockedValue { state in
            guard let sessionId else { return state.table.takeMostIdle(1).first }
            guard let entry = state.table.entry(sessionId: sessionId), state.table.markClosing(entry) else { return nil }
            return entry
        }
        guard let chosen else { return nil }
        chosen.connection.triggerUserOutboundEvent(ServerInitiatedClose.drop, promise: nil)
        logger.info("dropped session", metadata: ["sessionId": "\(chosen.sessionId)"])
        return chosen.sessionId
    }

    /// Refuses new sessions from now on and closes every live one with 1001.
    func closeAllForShutdown() {
        let entries = state.withLockedValue { state -> [Entry] in
            state.shuttingDown = true
            return state.table.entries.filter { state.table.markClosing($0) }
        }
        for entry in entries { entry.connection.triggerUserOutboundEvent(ServerInitiatedClose.shutdown, promise: nil) }
        logger.info("closing every session for shutdown", metadata: ["sessions": "\(entries.count)"])
    }

    /// Closes the channels of every session still open, without a handshake.
    func forceCloseAll() {
        let entries = state.withLockedValue { $0.table.entries }
        for entry in entries { entry.connection.close(promise: nil) }
    }

    /// Whether `GET /health` should answer 503.
    var isOutOfRotation: (draining: Bool, shuttingDown: Bool) {
        state.withLockedValue { ($0.draining, $0.shuttingDown) }
    }

    /// Marks the server draining (true) or back in rotation (false).
    func setDraining(_ draining: Bool) {
        state.withLockedValue { $0.draining = draining }
        logger.info(draining ? "draining: /health answers 503" : "active: /health answers 200")
    }

    /// Number of live sessions.
    var count: Int {
        state.withLockedValue { $0.table.count }
    }

    /// Ids of the live sessions, the most idle first.
    var sessionIds: [String] {
        state.withLockedValue { $0.table.entries.map(\.sessionId) }
    }
}
