/// The life of one simulated user's session, without I/O: what to do when the user is asked
/// to connect or disconnect, when a connection opens or ends, and when a retry is due.
///
/// The caller performs the returned ``Action`` (open a connection, close one, arm a timer) and
/// reports back with the `epoch` the action carried. Each connection attempt and each retry
/// timer gets a new epoch, so an event about an attempt the user has since abandoned (for
/// example a connection that opens after the user was disconnected) is recognised as stale:
/// a stale open is closed at once, a stale end or timer is ignored.
///
/// Reconnection rules (decided here, documented in the README):
/// - Every end the user did not ask for leads to a retry: a server close with any code
///   (4001 rebalancing, 1013 try again later, 1001 going away, 1000, others), an abnormal
///   close (1006), a failed connect, an upgrade refused with a 5xx status (or 408 / 429).
/// - An upgrade refused with another 4xx status is permanent (the server rejects this user
///   id): the user becomes disconnected and does not retry. Any other refusal (a 3xx, or a
///   status the client never got to read) is retried.
/// - Retries count in series. A session that was up and then closed by the server for any
///   reason other than 1013 (4001, 1001, 1006, ...) starts a new series, so its first retry is
///   attempt 1 and waits `random(0, base)`: at most 100 ms by default. That is what 4001 and
///   1001 want (the server asked the client to go elsewhere now); the jitter only spreads the
///   shed clients so they do not arrive as one burst. There is no zero-delay special case.
/// - 1013 (refused over the hard limit, sent right after the upgrade), a failed connect and
///   a refused upgrade continue the current series: the ceiling doubles each time, up to `cap`.
/// - When `maxAttempts` is set and the series is longer, the user gives up (disconnected).
/// - 4002 (replaced by a newer session of the same user) is permanent too: the user is
///   connected elsewhere, and coming back would replace that session in turn.
/// - An intentional disconnect never reconnects, whatever arrives afterwards.
public struct UserSessionStateMachine: Sendable {
    /// Where the user's session stands.
    public enum State: Sendable, Equatable {
        /// A connection attempt is in flight.
        case connecting
        /// The WebSocket is open, on this host (from the `X-WSScale-Host` upgrade header).
        case connected(host: String?)
        /// Waiting `delay` before retry number `attempt` (1-based) of the current series.
        case reconnecting(attempt: Int, delay: Duration)
        /// Not connected and not trying to be.
        case disconnected
    }

    /// What the caller must do after an event.
    public enum Action: Sendable, Equatable {
        /// Nothing.
        case none
        /// Open a WebSocket connection for the user and report it with this epoch.
        case openConnection(epoch: UInt64)
        /// Close the connection opened for this epoch intentionally (close code 1000).
        case closeConnection(epoch: UInt64)
        /// Call ``retryDue(epoch:)`` with this epoch after `delay`.
        case scheduleRetry(epoch: UInt64, delay: Duration)
    }

    /// The current state.
    public private(set) var state: State = .disconnected
    /// How many retries were started since the user was created.
    public private(set) var reconnectCount = 0
    /// How the last connection or attempt ended, if one did.
    public private(set) var lastEnd: ConnectionEnd?
    /// The host of the last connection that opened (kept after it ends).
    public private(set) var lastHost: String?
    /// True when the user stopped retrying (too many attempts or a permanent refusal).
    public private(set) var gaveUp = false
    /// The retry policy.
    public let backoff: BackoffPolicy

    private var epoch: UInt64 = 0
    private var retriesInSeries = 0

    /// Creates a disconnected user.
    /// - Parameters:
    ///   - backoff: the retry policy.
    ///   - firstEpoch: where its epochs start; distinct per user, so that an event about a
    ///     user forgotten and made again is still recognised as stale.
    public init(backoff: BackoffPolicy, firstEpoch: UInt64 = 0) {
        self.backoff = backoff
        self.epoch = firstEpoch
    }

    /// Whether nothing of this user is in flight: disconnected, with no attempt, connection or
    /// retry of its own (what may be forgotten).
    public var isAtRest: Bool { state == .disconnected }

    /// The user is asked to connect. A no-op unless the user is disconnected.
    public mutating func connect() -> Action {
        guard case .disconnected = state else { return .none }
        epoch &+= 1
        retriesInSeries = 0
        gaveUp = false
        state = .connecting
        return .openConnection(epoch: epoch)
    }

    /// The user is asked to disconnect: closes the connection if one is open, abandons an
    /// attempt or a pending retry. The user never reconnects on its own afterwards.
    public mutating func disconnect() -> Action {
        let previous = state
        let previousEpoch = epoch
        state = .disconnected
        epoch &+= 1
        switch previous {
        case .connected: return .closeConnection(epoch: previousEpoch)
        case .connecting, .reconnecting, .disconnected: return .none
        }
    }

    /// Whether the connection attempt of `epoch` is still wanted (so it is worth making).
    public func isAwaitingConnection(epoch: UInt64) -> Bool {
        guard epoch == self.epoch, case .connecting = state else { return false }
        return true
    }

    /// The connection attempt of `epoch` opened on `host`.
    /// - Returns: `.closeConnection` when the attempt is stale (the user was disconnected or
    ///   moved on meanwhile), else `.none`.
    public mutating func connectionOpened(epoch: UInt64, host: String?) -> Action {
        guard epoch == self.epoch, case .connecting = state else { return .closeConnection(epoch: epoch) }
        state = .connected(host: host)
        lastHost = host
        return .none
    }

    /// The connection (or attempt) of `epoch` ended.
    /// - Parameters:
    ///   - epoch: the epoch the connection was opened with.
    ///   - end: how it ended.
    ///   - generator: the random source for the retry's jitter.
    public mutating func connectionEnded(epoch: UInt64, _ end: ConnectionEnd,
                                         using generator: inout some RandomNumberGenerator) -> Action {
        guard epoch == self.epoch else { return .none }
        let wasConnected: Bool
        switch state {
        case .connecting: wasConnected = false
        case .connected: wasConnected = true
        case .reconnecting, .disconnected: return .none
        }
        lastEnd = end
        switch Self.classify(end, wasConnected: wasConnected) {
        case .permanent:
            return giveUp()
        case .healthySessionEnded:
            retriesInSeries = 1
        case .failedAttempt:
            retriesInSeries += 1
        }
        guard backoff.allows(attempt: retriesInSeries) else { return giveUp() }
        let delay = backoff.delay(forAttempt: retriesInSeries, using: &generator)
        self.epoch &+= 1
        state = .reconnecting(attempt: retriesInSeries, delay: delay)
        return .scheduleRetry(epoch: self.epoch, delay: delay)
    }

    /// The retry timer armed with `epoch` fired.
    /// - Returns: `.openConnection` unless the timer is stale.
    public mutating func retryDue(epoch: UInt64) -> Action {
        guard epoch == self.epoch, case .reconnecting = state else { return .none }
        reconnectCount += 1
        state = .connecting
        return .openConnection(epoch: epoch)
    }

    private mutating func giveUp() -> Action {
        gaveUp = true
        epoch &+= 1
        state = .disconnected
        return .none
    }

    private enum EndKind { case healthySessionEnded, failedAttempt, permanent }

    private static func classify(_ end: ConnectionEnd, wasConnected: Bool) -> EndKind {
        switch end {
        case .closedByServer(let code, _):
            if code == WebSocketCloseCode.tryAgainLater { return .failedAttempt }
            // The user's newer session took this one's place: coming back would replace it in turn.
            if code == WebSocketCloseCode.replaced { return .permanent }
            return wasConnected ? .healthySessionEnded : .failedAttempt
        case .abnormal, .silent, .closedByClient:
            return wasConnected ? .healthySessionEnded : .failedAttempt
        case .connectFailed:
            return .failedAttempt
        case .upgradeRefused(let status):
            // Only a refusal the client could read is permanent: a status that never arrived
            // (the connection closed first) says nothing about the user.
            let permanent = (400..<500).contains(status) && status != 408 && status != 429
            return permanent ? .permanent : .failedAttempt
        }
    }
}
