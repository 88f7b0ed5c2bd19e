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
    static let idle = ServerInitiatedClose(code: .goingAway, reason: "no answer to pings", cause: .idle)
    static let replaced = ServerInitiatedClose(code: .init(codeNumber: 4002), reason: "replaced by a newer session",
                                               cause: .replaced)
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
        /// Sessions the server retired (out of the table and the registry) whose channels are
        /// still closing, by session id.
        var closing: [String: Entry] = [:]
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

    /// Where session times come from.
    private let wallClock: WallClock

    init(hostId: InstanceID, maxSessions: Int, store: any HostSessionStore, metrics: ServerMetrics,
         wallClock: WallClock = .system, logger: Logger) {
        self.hostId = hostId
        self.wallClock = wallClock
        self.maxSessions = maxSessions
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// A duration in whole milliseconds.
    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Milliseconds since 1970, now.
    private func now() -> Int64 { wallClock.milliseconds() }

    /// Opens a session for `userId` on `channel`, or says why it must be refused (hard limit, shutdown).
    ///
    /// One live session per user on a server: the newest wins. A session of the same user
    /// already here is replaced: it leaves the table and the registry now and is closed with
    /// 4002 "replaced by a newer session". So one user id opened a thousand times holds one
    /// place, not a thousand, and cannot grow the pool.
    func admit(userId: String, channel: Channel) -> Admission {
        let now = self.now()
        let (outcome, replaced): (Admission, Entry?) = state.withLockedValue { state in
            if state.shuttingDown { return (.refused(code: .goingAway, reason: "going away"), nil) }
            var replaced: Entry?
            if let older = state.table.entry(userId: userId), state.table.markClosing(older) {
                state.table.remove(older)
                state.closing[older.sessionId] = older
                replaced = older
            } else if state.table.count >= maxSessions {
                return (.refused(code: .init(codeNumber: 1013), reason: "try again later"), nil)
            }
            state.nextSessionNumber += 1
            let sessionId = sessionIdPrefix + String(state.nextSessionNumber, radix: 36)
            let entry = Entry(sessionId: sessionId, userId: userId, connectedAt: now, connection: channel)
            state.table.insert(entry)
            return (.admitted(entry), replaced)
        }
        if let replaced {
            forget([replaced], cause: .replaced)
            sendCloseOnceWritten([replaced], .replaced)
            logger.debug("session replaced", metadata: ["sessionId": "\(replaced.sessionId)", "userId": "\(userId)"])
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

    /// Whether `admit` would take a session of `userId` now (not shutting down, and room under
    /// the hard limit or an older session of the same user to replace). In front of an app, a
    /// session that would be refused is not opened at the app.
    func hasRoom(forUser userId: String) -> Bool {
        state.withLockedValue { state in
            !state.shuttingDown && (state.table.count < maxSessions || state.table.entry(userId: userId) != nil)
        }
    }

    /// Records a message from the client.
    func touch(_ entry: Entry) {
        let now = self.now()
        state.withLockedValue { $0.table.touch(entry, at: now) }
        store.sessionTouched(sessionId: entry.sessionId, at: now)
    }

    /// Records a pong from the client: alive, not active.
    func heard(_ entry: Entry) {
        let now = self.now()
        state.withLockedValue { $0.table.heard(entry, at: now) }
    }

    /// Pings the sessions idle for `pingInterval` that were not heard from since, and closes
    /// (1001, out of the registry at once) those silent for `idleTimeout`: a half-open
    /// connection is not counted for long. Returns how many were pinged and closed.
    @discardableResult
    func sweepIdle(pingInterval: Duration, idleTimeout: Duration) -> (pinged: Int, closed: Int) {
        let now = self.now()
        var toPing: [Entry] = []
        let expired = retire(with: .idle) { state in
            let swept = state.table.sweepIdle(now: now, pingIntervalMs: Self.milliseconds(pingInterval),
                                              idleTimeoutMs: Self.milliseconds(idleTimeout))
            toPing = swept.ping
            return swept.expired
        }
        for entry in toPing {
            let channel = entry.connection
            var data = channel.allocator.buffer(capacity: 8)
            data.writeString("wsscale")
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: data), promise: nil)
        }
        if !expired.isEmpty {
            logger.info("closed sessions that did not answer pings", metadata: ["sessions": "\(expired.count)"])
        }
        return (toPing.count, expired.count)
    }

    /// Removes a session whose channel closed (nothing to do when the server retired it already).
    func closed(_ entry: Entry, cause: SessionCloseReason) {
        let removed = state.withLockedValue { state in
            guard state.table.remove(entry) else {
                state.closing[entry.sessionId] = nil
                return false
            }
            return true
        }
        guard removed else { return }
        forget([entry], cause: cause)
    }

    /// Closes the sessions `choose` marks closing (under the state lock) with `close`: they
    /// leave the table and the registry at once, before their close handshakes end, and their
    /// close frames go out once the registry is written. The client may reconnect (through the
    /// balancer, to another server) as soon as it reads the close frame, and the topology must
    /// not count it twice meanwhile, or the balancer sees more sessions than users and scales
    /// out for nothing. Returns the sessions chosen.
    private func retire(with close: ServerInitiatedClose, choosing choose: (inout State) -> [Entry]) -> [Entry] {
        let chosen = state.withLockedValue { state in
            let chosen = choose(&state)
            for entry in chosen {
                state.table.remove(entry)
                state.closing[entry.sessionId] = entry
            }
            return chosen
        }
        forget(chosen, cause: close.cause)
        sendCloseOnceWritten(chosen, close)
        return chosen
    }

    /// How long a close waits for the registry to drop its records (when Redis is away).
    static let registryWriteWait: Duration = .milliseconds(500)

    /// Sends the close frames once the registry no longer lists the sessions (at most
    /// `registryWriteWait` later): the clients reconnect at once, to other servers, and
    /// must not be counted on two servers meanwhile.
    private func sendCloseOnceWritten(_ entries: [Entry], _ close: ServerInitiatedClose) {
        guard !entries.isEmpty else { return }
        let channels = entries.map(\.connection)
        Task { [store] in
            await store.flushed(within: Self.registryWriteWait)
            for channel in channels { channel.triggerUserOutboundEvent(close, promise: nil) }
        }
    }

    /// The registry and the metrics for sessions that left the table.
    private func forget(_ entries: [Entry], cause: SessionCloseReason) {
        for entry in entries {
            store.sessionClosed(sessionId: entry.sessionId)
            metrics.recordClosed(cause)
            logger.debug("session closed", metadata: ["sessionId": "\(entry.sessionId)", "cause": "\(cause.rawValue)"])
        }
    }

    /// Closes the `count` most idle sessions with 4001; returns how many were chosen.
    @discardableResult
    func shed(_ count: Int) -> Int {
        let chosen = retire(with: .shed) { $0.table.takeMostIdle(count) }
        if !chosen.isEmpty { metrics.shed.increment(by: Int64(chosen.count)) }
        logger.info("shed sessions", metadata: ["asked": "\(count)", "closing": "\(chosen.count)"])
        return chosen.count
    }

    /// Closes one session with 4001: the one with `sessionId`, or the most idle when `nil`.
    /// Returns the id of the session closed, or `nil` when there is no such session.
    func drop(sessionId: String?) -> String? {
        let chosen = retire(with: .drop) { state in
            guard let sessionId else { return state.table.takeMostIdle(1) }
            guard let entry = state.table.entry(sessionId: sessionId), state.table.markClosing(entry) else { return [] }
            return [entry]
        }.first
        guard let chosen else { return nil }
        logger.info("dropped session", metadata: ["sessionId": "\(chosen.sessionId)"])
        return chosen.sessionId
    }

    /// Refuses new sessions from now on and closes every live one with 1001.
    func closeAllForShutdown() {
        let entries = retire(with: .shutdown) { state in
            state.shuttingDown = true
            return state.table.entries.filter { state.table.markClosing($0) }
        }
        logger.info("closing every session for shutdown", metadata: ["sessions": "\(entries.count)"])
    }

    /// Closes the channels of every session still open, without a handshake.
    func forceCloseAll() {
        let entries = state.withLockedValue { $0.table.entries + Array($0.closing.values) }
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

    /// Number of live sessions (those closing by the server's choice are no longer counted).
    var count: Int {
        state.withLockedValue { $0.table.count }
    }

    /// Number of session channels still open: the live sessions and those still closing.
    var openConnections: Int {
        state.withLockedValue { $0.table.count + $0.closing.count }
    }

    /// Channels of the live sessions, the most idle first.
    var channels: [Channel] {
        state.withLockedValue { $0.table.entries.map(\.connection) }
    }

    /// Ids of the live sessions, the most idle first.
    var sessionIds: [String] {
        state.withLockedValue { $0.table.entries.map(\.sessionId) }
    }
}
