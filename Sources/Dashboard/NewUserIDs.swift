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

/// Every id `POST /api/connect` has handed out. Two connects at once read the same known ids
/// from the client simulator, and would pick the same new ones (the second then connects
/// nobody new); the ids handed out are skipped too. They are kept for the dashboard's lifetime:
/// the client simulator keeps every user it was given as well, so this never holds more.
public final class IssuedUserIDs: Sendable {
    private let issued = NIOLockedValueBox<Set<String>>([])

    /// Creates an empty record.
    public init() {}

    /// Picks `count` ids as `NewUserIDs.pick` does, also skipping every id handed out before,
    /// and records them as handed out.
    public func issue(count: Int, prefix: String, known: Set<String>) -> [String] {
        issued.withLockedValue { issued in
            let ids = NewUserIDs.pick(count: count, prefix: prefix, known: known.union(issued))
            issued.formUnion(ids)
            return ids
        }
    }
}
