import NIOConcurrencyHelpers

/// Picks ids for new users: the prefix followed by the smallest numbers (from 1) whose id the
/// client simulator does not know yet.
public enum NewUserIDs {
    /// `count` ids `prefix1`, `prefix2`, … skipping every id in `known`. Pure.
    /// - Parameters:
    ///   - count: how many ids.
    ///   - prefix: what they start with.
    ///   - known: the ids the client simulator already has, whatever their state.
    public static func pick(count: Int, prefix: String, known: Set<String>) -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(max(0, count))
        var number = 1
        while ids.count < count {
            let id = "\(prefix)\(number)"
            if !known.contains(id) { ids.append(id) }
            number += 1
        }
        return ids
    }
}

/// The ids `POST /api/connect` handed out that the client simulator may not know yet. Two
/// connects at once read the same known ids from the client simulator, and would pick the
/// same new ones (the second then connects nobody new); the ids in flight are skipped too.
///
/// Bounded: an id leaves the record once the client simulator lists it (it is in `known`
/// from then on), or `keepFor` after it was handed out (a batch the simulator refused).
public final class IssuedUserIDs: Sendable {
    private let issued = NIOLockedValueBox<[String: ContinuousClock.Instant]>([:])
    private let keepFor: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates an empty record.
    /// - Parameters:
    ///   - keepFor: how long an id the simulator has not listed stays reserved.
    ///   - now: the clock (a test's, or the continuous clock).
    public init(keepFor: Duration = .seconds(60), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.keepFor = keepFor
        self.now = now
    }

    /// Ids in flight now.
    public var count: Int { issued.withLockedValue { $0.count } }

    /// Picks `count` ids as `NewUserIDs.pick` does, also skipping the ids in flight, and
    /// records them as in flight.
    public func issue(count: Int, prefix: String, known: Set<String>) -> [String] {
        let now = now()
        return issued.withLockedValue { issued in
            issued = issued.filter { !known.contains($0.key) && now - $0.value < keepFor }
            let ids = NewUserIDs.pick(count: count, prefix: prefix, known: known.union(issued.keys))
            for id in ids { issued[id] = now }
            return ids
        }
    }
}
