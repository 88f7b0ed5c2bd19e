import WSScaleCore

/// One host's sessions in memory, and what of them still has to be written to Redis.
///
/// Pure state, no I/O: the store mutates it under a lock from the server's event loops and
/// its writer takes the changes out in batches.
struct HostSessionTable: Sendable {
    /// Changes to write: records to `HSET`, session ids to `HDEL`.
    struct Changes: Sendable, Equatable {
        /// Records opened (or rewritten) since the last take.
        var upserts: [SessionRecord] = []
        /// Sessions closed since the last take.
        var removals: [String] = []
        /// Whether the session count changed (a notification is due).
        var countChanged = false

        /// Whether there is nothing to do.
        var isEmpty: Bool { upserts.isEmpty && removals.isEmpty && !countChanged }
    }

    /// Every open session by id.
    private(set) var sessions: [String: SessionRecord] = [:]
    /// Whether the host was told to drain (kept so a rewrite restores the flag).
    var draining = false
    /// Sessions opened or closed since the last take.
    private var dirty: Set<String> = []
    /// Sessions whose last-active time moved since the last take (written lazily).
    private var touched: Set<String> = []
    private var countChanged = false

    /// Records a new session.
    mutating func open(_ record: SessionRecord) {
        if sessions.updateValue(record, forKey: record.sessionId) == nil { countChanged = true }
        dirty.insert(record.sessionId)
        touched.remove(record.sessionId)
    }

    /// Forgets a session; unknown ids are ignored.
    mutating func close(sessionId: String) {
        guard sessions.removeValue(forKey: sessionId) != nil else { return }
        countChanged = true
        dirty.insert(sessionId)
        touched.remove(sessionId)
    }

    /// Moves a session's last-active time forward; unknown ids are ignored.
    mutating func touch(sessionId: String, at milliseconds: Int64) {
        guard let record = sessions[sessionId], milliseconds > record.lastActive else { return }
        sessions[sessionId]?.lastActive = milliseconds
        if !dirty.contains(sessionId) { touched.insert(sessionId) }
    }

    /// Takes the opens and closes to write, leaving touches for `takeTouched()`.
    mutating func takeChanges() -> Changes {
        var changes = Changes(countChanged: countChanged)
        for id in dirty {
            if let record = sessions[id] { changes.upserts.append(record) } else { changes.removals.append(id) }
        }
        dirty.removeAll(keepingCapacity: true)
        countChanged = false
        return changes
    }

    /// Takes the records whose last-active time moved (and that are still open).
    mutating func takeTouched() -> [SessionRecord] {
        let records = touched.compactMap { sessions[$0] }
        touched.removeAll(keepingCapacity: true)
        return records
    }

    /// Takes the whole set for a rewrite; pending changes and touches are part of it.
    mutating func takeEverything() -> [SessionRecord] {
        dirty.removeAll(keepingCapacity: true)
        touched.removeAll(keepingCapacity: true)
        countChanged = false
        return Array(sessions.values)
    }
}
