/// Which users leave next in experiment 3.
///
/// Users leave from the fullest servers that are still in rotation, one at a time, so the
/// servers empty evenly. The least-loaded server the balancer then drains still holds users,
/// and "a draining server does not cut its users" is exercised on every run instead of
/// depending on which server happened to empty first. Users on draining servers leave last.
public enum DepartureOrder {
    /// Picks `count` of `remaining` (in their order when ties leave a choice), given where each
    /// user sits (`host`, nil when unknown) and which servers are draining.
    public static func next(_ count: Int, of remaining: [String], host: (String) -> String?,
                            draining: Set<String>) -> [String] {
        var byHost: [String: [String]] = [:]
        var unplaced: [String] = []
        for user in remaining {
            if let server = host(user) { byHost[server, default: []].append(user) } else { unplaced.append(user) }
        }
        // Users whose server is unknown (not connected right now) go first: no server to keep full.
        var picked = Array(unplaced.prefix(count))
        while picked.count < count {
            let candidates = byHost.filter { !$0.value.isEmpty }
            guard !candidates.isEmpty else { break }
            let inRotation = candidates.filter { !draining.contains($0.key) }
            let pool = inRotation.isEmpty ? candidates : inRotation
            let fullest = pool.max { a, b in
                a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key
            }!.key
            picked.append(byHost[fullest]!.removeLast())
        }
        return picked
    }
}
