/// One live session in a `SessionTable`.
///
/// Not thread-safe: read and change it only through the table, under the table's lock.
public final class SessionEntry<Connection> {
    /// Unique id of the session.
    public let sessionId: String
    /// The user it belongs to.
    public let userId: String
    /// When it opened, in milliseconds since 1970.
    public let connectedAt: Int64
    /// When the client last sent something, in milliseconds since 1970.
    public fileprivate(set) var lastActive: Int64
    /// When the client was last heard at all, a pong included, in milliseconds since 1970.
    public fileprivate(set) var lastHeard: Int64
    /// When the server last pinged it, in milliseconds since 1970 (0: never).
    public fileprivate(set) var lastPinged: Int64 = 0
    /// Whether the server has started closing it (a shed, drop or shutdown chose it).
    public fileprivate(set) var isClosing = false
    /// What closes it (the channel, in the server).
    public let connection: Connection

    /// The next more recently active entry (strong: the list owns its entries from the oldest on).
    fileprivate var newer: SessionEntry?
    /// The next more idle entry.
    fileprivate unowned(unsafe) var older: SessionEntry?
    fileprivate var isListed = false

    /// Creates an entry that is not in any table yet.
    public init(sessionId: String, userId: String, connectedAt: Int64, connection: Connection) {
        self.sessionId = sessionId
        self.userId = userId
        self.connectedAt = connectedAt
        self.lastActive = connectedAt
        self.lastHeard = connectedAt
        self.connection = connection
    }
}

/// Live sessions ordered from the most idle to the most recently active.
///
/// A list in order of last activity: adding, removing and touching a session are O(1),
/// the `n` most idle are found in O(n), a user's session in O(1). Finding one session by id
/// walks the list (only the rare drop command does). Not thread-safe: guard it with a lock.
public struct SessionTable<Connection> {
    private var oldest: SessionEntry<Connection>?
    private unowned(unsafe) var newest: SessionEntry<Connection>?
    /// Each user's most recently inserted session still in the table.
    private var byUser: [String: SessionEntry<Connection>] = [:]
    /// Number of sessions in the table.
    public private(set) var count = 0

    /// Creates an empty table.
    public init() {}

    /// Adds a session as the most recently active.
    public mutating func insert(_ entry: SessionEntry<Connection>) {
        precondition(!entry.isListed, "session \(entry.sessionId) is already in a table")
        append(entry)
        entry.isListed = true
        byUser[entry.userId] = entry
        count += 1
    }

    /// Removes a session; returns `false` if it was not in the table.
    @discardableResult
    public mutating func remove(_ entry: SessionEntry<Connection>) -> Bool {
        guard entry.isListed else { return false }
        unlink(entry)
        entry.isListed = false
        if byUser[entry.userId] === entry { byUser[entry.userId] = nil }
        count -= 1
        return true
    }

    /// Records activity: the session becomes the most recently active.
    public mutating func touch(_ entry: SessionEntry<Connection>, at millisecondsSince1970: Int64) {
        guard entry.isListed else { return }
        entry.lastActive = max(entry.lastActive, millisecondsSince1970)
        entry.lastHeard = max(entry.lastHeard, millisecondsSince1970)
        guard newest !== entry else { return }
        unlink(entry)
        append(entry)
    }

    /// Records a pong: the client is alive, but not active (its place in the idle order stays).
    public mutating func heard(_ entry: SessionEntry<Connection>, at millisecondsSince1970: Int64) {
        guard entry.isListed else { return }
        entry.lastHeard = max(entry.lastHeard, millisecondsSince1970)
    }

    /// Among the sessions idle (no message) for `pingInterval` or more, those to ping now
    /// (not heard from for `pingInterval` and no ping unanswered; marked pinged) and those
    /// silent past `idleTimeout` (marked closing). A session expires only once its ping went
    /// unanswered for `idleTimeout - pingInterval`: a late sweep never closes a session it
    /// did not ping first. Walks only the idle end of the list.
    public mutating func sweepIdle(now: Int64, pingIntervalMs: Int64, idleTimeoutMs: Int64)
        -> (ping: [SessionEntry<Connection>], expired: [SessionEntry<Connection>]) {
        var ping: [SessionEntry<Connection>] = []
        var expired: [SessionEntry<Connection>] = []
        var cursor = oldest
        while let entry = cursor, now - entry.lastActive >= pingIntervalMs {
            cursor = entry.newer
            guard !entry.isClosing else { continue }
            let unanswered = entry.lastPinged > entry.lastHeard
            if unanswered {
                if now - entry.lastHeard >= idleTimeoutMs, now - entry.lastPinged >= idleTimeoutMs - pingIntervalMs {
                    entry.isClosing = true
                    expired.append(entry)
                }
            } else if now - entry.lastHeard >= pingIntervalMs {
                entry.lastPinged = now
                ping.append(entry)
            }
        }
        return (ping, expired)
    }

    /// Chooses up to `n` of the most idle sessions that are not closing yet and marks them closing.
    public mutating func takeMostIdle(_ n: Int) -> [SessionEntry<Connection>] {
        var chosen: [SessionEntry<Connection>] = []
        chosen.reserveCapacity(min(max(n, 0), count))
        var cursor = oldest
        while chosen.count < n, let entry = cursor {
            if !entry.isClosing {
                entry.isClosing = true
                chosen.append(entry)
            }
            cursor = entry.newer
        }
        return chosen
    }

    /// Marks one session closing; returns `false` if it is not in the table or already closing.
    public mutating func markClosing(_ entry: SessionEntry<Connection>) -> Bool {
        guard entry.isListed, !entry.isClosing else { return false }
        entry.isClosing = true
        return true
    }

    /// The user's most recently inserted session, if one is in the table.
    public func entry(userId: String) -> SessionEntry<Connection>? {
        byUser[userId]
    }

    /// The session with this id, if it is in the table.
    public func entry(sessionId: String) -> SessionEntry<Connection>? {
        var cursor = oldest
        while let entry = cursor {
            if entry.sessionId == sessionId { return entry }
            cursor = entry.newer
        }
        return nil
    }

    /// Every session, the most idle first.
    public var entries: [SessionEntry<Connection>] {
        var result: [SessionEntry<Connection>] = []
        result.reserveCapacity(count)
        var cursor = oldest
        while let entry = cursor {
            result.append(entry)
            cursor = entry.newer
        }
        return result
    }

    private mutating func append(_ entry: SessionEntry<Connection>) {
        entry.older = newest
        entry.newer = nil
        if let last = newest { last.newer = entry } else { oldest = entry }
        newest = entry
    }

    private mutating func unlink(_ entry: SessionEntry<Connection>) {
        let after = entry.newer
        if let before = entry.older { before.newer = after } else { oldest = after }
        if let after { after.older = entry.older } else { newest = entry.older }
        entry.newer = nil
        entry.older = nil
    }
}
