import struct Foundation.Date

/// One WebSocket session as the registry records it.
///
/// JSON field names are the original proof of concept's (`userId`, `sessionId`, `hostId`).
public struct SessionRecord: Sendable, Codable, Equatable, Hashable {
    /// The user the client connected as (the path's `{userId}`).
    public var userId: String
    /// Unique id of this session.
    public var sessionId: String
    /// The server holding it.
    public var hostId: InstanceID
    /// When it opened, in milliseconds since 1970.
    public var connectedAt: Int64
    /// When the client last sent something, in milliseconds since 1970.
    public var lastActive: Int64

    /// Creates a session record.
    public init(userId: String, sessionId: String, hostId: InstanceID, connectedAt: Int64, lastActive: Int64) {
        self.userId = userId
        self.sessionId = sessionId
        self.hostId = hostId
        self.connectedAt = connectedAt
        self.lastActive = lastActive
    }
}

/// One live host in the registry: a server whose lease has not expired.
public struct HostSessions: Sendable, Equatable {
    /// The server.
    public var host: InstanceID
    /// Sessions it holds.
    public var sessions: Int
    /// Whether it was told to drain (its `/health` answers 503): the balancer's record.
    public var draining: Bool
    /// Whether the host itself says it drains (`nil`: it has not said yet). It differs from
    /// the record when a command was lost or someone else told it: the balancer then tells it
    /// again what the record says (one owner, one record).
    public var reportsDraining: Bool?

    /// Creates a host entry.
    public init(host: InstanceID, sessions: Int, draining: Bool = false, reportsDraining: Bool? = nil) {
        self.host = host
        self.sessions = sessions
        self.draining = draining
        self.reportsDraining = reportsDraining
    }
}

/// A change the balancer should look at.
public enum RegistryEvent: Sendable, Equatable {
    /// A host's session count changed (coalesced: one event stands for many changes).
    case hostChanged(InstanceID)
    /// A host's lease expired: it died without cleaning up; its sessions left the topology.
    case hostExpired(InstanceID)
    /// The registry reconnected after an outage; re-read everything.
    case resynchronized
}

/// The balancer's view of the session registry (Redis).
///
/// Contract:
/// - `topology()` costs O(hosts), never O(sessions), and lists only hosts with a live lease.
/// - `events()` yields coalesced changes; a burst of session changes is a few events,
///   not one per session. Each call returns a new stream.
/// - `shed` and `setDraining` reach the host's server through the registry, and survive a
///   moment when the server is not listening (its connection to the registry is being made
///   again): the order waits, for a bounded time, until the server next listens. Each says
///   which of the two happened. A later order of the same kind replaces one still waiting,
///   so orders repeated while a server was away are carried out once, not added up.
public protocol SessionRegistry: Sendable {
    /// Live hosts with their session counts.
    func topology() async throws -> [HostSessions]
    /// Every session of every live host (iterated, not `KEYS`).
    func allSessions() async throws -> [SessionRecord]
    /// Coalesced change notifications.
    func events() -> AsyncStream<RegistryEvent>
    /// Asks a host to close its `count` most idle sessions with close code 4001.
    @discardableResult
    func shed(host: InstanceID, count: Int) async throws -> CommandDelivery
    /// Tells a host it is draining (true) or back in rotation (false).
    @discardableResult
    func setDraining(host: InstanceID, _ draining: Bool) async throws -> CommandDelivery
}

/// What became of an order sent to a host through the registry.
public enum CommandDelivery: Sendable, Equatable {
    /// The host was listening and got it.
    case heard
    /// Nobody was listening: the order waits for the host's next connection to the registry,
    /// for a bounded time (then the next decision sends a fresh one).
    case waiting
}

/// A command for one server, sent by the balancer through the registry.
public enum HostCommand: Sendable, Equatable {
    /// Close this many of the most idle sessions with close code 4001.
    case shed(count: Int)
    /// Out of rotation: `/health` answers 503, existing sessions stay.
    case drain
    /// Back in rotation: `/health` answers 200.
    case activate
    /// Close one session (the REST drop endpoint on another host asked for it).
    case drop(sessionId: String)
}

/// The server's side of the registry: records its sessions, keeps its lease, hears commands.
///
/// Contract:
/// - `sessionOpened`, `sessionClosed` and `sessionTouched` never block and never fail:
///   they are called on the server's event loop. Writes are pipelined and batched.
/// - The store keeps the host's whole session set; after a registry outage it reconnects
///   with backoff and writes the whole set again. While the registry is away the server
///   keeps serving.
/// - The host's lease is renewed every fraction of its length; a host whose lease expires
///   leaves the topology with all its sessions.
/// - `run()` runs until cancelled; on return (graceful shutdown) the host's records are gone.
public protocol HostSessionStore: Sendable {
    /// Records a new session.
    func sessionOpened(_ record: SessionRecord)
    /// Removes a session's record.
    func sessionClosed(sessionId: String)
    /// Moves a session's last-active time (may be written lazily, with the lease).
    func sessionTouched(sessionId: String, at millisecondsSince1970: Int64)
    /// Commands for this host, in order.
    func commands() -> AsyncStream<HostCommand>
    /// Sends a command to another host (the REST drop endpoint for a session elsewhere).
    /// - Returns: whether that host was listening and got it (`false`: no such live host).
    func send(_ command: HostCommand, to host: InstanceID) async throws -> Bool
    /// Every session of every live host (for `GET /ws-session/all`).
    func allSessions() async throws -> [SessionRecord]
    /// Whether `host`'s session records hold `sessionId` (the REST drop endpoint checks a drop
    /// for another host against the registry before it delivers it).
    func holds(sessionId: String, on host: InstanceID) async throws -> Bool
    /// Keeps the lease and the connection until cancelled, then removes this host's records.
    func run() async throws
    /// Returns once every change recorded before the call is in the registry, or after
    /// `timeout` when it cannot be written now (the registry is away). The server waits on
    /// it before it closes sessions itself: a client told to go (4001, 1001) reconnects to
    /// another server at once, and must not be counted on both while the writes catch up.
    func flushed(within timeout: Duration) async
}

extension HostSessionStore {
    /// A store that writes every change as it is recorded has nothing to wait for.
    public func flushed(within timeout: Duration) async {}

    /// Looks through every live session (a store with a cheaper lookup answers it itself).
    public func holds(sessionId: String, on host: InstanceID) async throws -> Bool {
        try await allSessions().contains { $0.hostId == host && $0.sessionId == sessionId }
    }
}
