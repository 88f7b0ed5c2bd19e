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
