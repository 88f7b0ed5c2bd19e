import NIOConcurrencyHelpers
import WSScaleCore

/// A session registry that lives inside one process (`REDIS_URL=memory://`): a single server
/// with no Redis, for trials, benchmarks and tests. Commands sent to this host are delivered
/// to its own command streams; commands for other hosts are kept in `sentToOtherHosts`
/// (like a publish that no server hears).
public final class InMemoryHostSessionStore: HostSessionStore, @unchecked Sendable {
    private struct State {
        var sentToOtherHosts: [(command: HostCommand, host: InstanceID)] = []
        var sessions: [String: SessionRecord] = [:]
        var listeners: [Int: AsyncStream<HostCommand>.Continuation] = [:]
        var nextListener = 0
        var stopped = false
    }

    /// The host whose sessions this store keeps.
    public let hostId: InstanceID
    private let state = NIOLockedValueBox(State())

    /// Creates an empty store for `hostId`.
    public init(hostId: InstanceID) {
        self.hostId = hostId
    }

    /// Records a new session.
    public func sessionOpened(_ record: SessionRecord) {
        state.withLockedValue { $0.sessions[record.sessionId] = record }
    }

    /// Removes a session's record.
    public func sessionClosed(sessionId: String) {
        state.withLockedValue { _ = $0.sessions.removeValue(forKey: sessionId) }
    }

    /// Moves a session's last-active time.
    public func sessionTouched(sessionId: String, at millisecondsSince1970: Int64) {
        state.withLockedValue { $0.sessions[sessionId]?.lastActive = millisecondsSince1970 }
    }

    /// Commands for this host; every stream sees every command delivered after it was made.
    public func commands() -> AsyncStream<HostCommand> {
        let (stream, continuation) = AsyncStream<HostCommand>.makeStream()
        let key: Int? = state.withLockedValue { state in
            guard !state.stopped else { return nil }
            state.nextListener += 1
            state.listeners[state.nextListener] = continuation
            return state.nextListener
        }
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { _ = $0.listeners.removeValue(forKey: key) }
        }
        return stream
    }

    /// Delivers a command to this host's command streams (what the registry's channel does).
    public func deliver(_ command: HostCommand) {
        let listeners = state.withLockedValue { Array($0.listeners.values) }
        for listener in listeners { listener.yield(command) }
    }

    /// Delivers the command when `host` is this host; keeps it in `sentToOtherHosts` otherwise,
    /// and says nobody got it: an in-memory registry has no other host.
    public func send(_ command: HostCommand, to host: InstanceID) async throws -> Bool {
        guard host == hostId else {
            state.withLockedValue { $0.sentToOtherHosts.append((command, host)) }
            return false
        }
        deliver(command)
        return true
    }

    /// Commands sent to other hosts, in order.
    public var sentToOtherHosts: [(command: HostCommand, host: InstanceID)] {
        state.withLockedValue { $0.sentToOtherHosts }
    }

    /// Every recorded session, the oldest first.
    public func allSessions() async throws -> [SessionRecord] {
        records
    }

    /// The recorded sessions now, the oldest first.
    public var records: [SessionRecord] {
        state.withLockedValue { Array($0.sessions.values) }
            .sorted { ($0.connectedAt, $0.sessionId) < ($1.connectedAt, $1.sessionId) }
    }

    /// Waits until cancelled, then forgets this host's sessions and ends the command streams.
    public func run() async throws {
        let (stream, continuation) = AsyncStream<Never>.makeStream()
        await withTaskCancellationHandler {
            for await _ in stream {}
        } onCancel: {
            continuation.finish()
        }
        let listeners = state.withLockedValue { state -> [AsyncStream<HostCommand>.Continuation] in
            state.stopped = true
            state.sessions.removeAll()
            defer { state.listeners.removeAll() }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.finish() }
    }
}
