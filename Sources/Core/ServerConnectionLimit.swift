/// How many connections the proxy may hold to one server at most (HAProxy's per-server
/// `maxconn`). Past it, new users wait in the proxy's queue instead of piling onto the
/// servers that exist, and the queue is counted as demand by the growth rule
/// (`PoolLoad.demand`): a burst waits for the capacity being launched, then lands on it.
///
/// With `L` = `CONNECTION_LIMIT_PER_HOST` and `t = MAX_UTILIZATION_PERCENT +
/// OVERUTILIZED_TOLERANCE_PERCENT` (the scale-out threshold):
/// - **Steady:** `ceil(L × t / 100)`, the count at which the pool scales out. A server does not
///   go past the threshold while others could be launched; the user who would take it past
///   waits (one launch) instead of overloading it.
/// - **When the pool cannot grow** (`MAX_INSTANCES` instances): the larger of that and the
///   share of what is asked, `ceil((S + Q) / (active + starting))`, so everyone fits and no
///   server takes more than its share.
/// - **While users wait and servers start** (a burst): the share each server will hold once
///   they are up, `ceil((S + Q) / (active + starting))`, when that is lower than the above. The
///   servers that are up stop there, and the queue goes to the new ones as they come into
///   rotation. With nobody waiting (a replacement launch, the first server) the limit stays.
///
/// Never above `MAX_CONNECTIONS_PER_HOST`, never below 1. A server already above its limit
/// keeps its sessions: it only gets no new one.
///
/// While servers start for a pool that can still grow, the limit only comes down (`previous`):
/// raising it makes HAProxy hand queued connections to the servers at once, while the ones it
/// handed out a moment before may not count yet, so a server can take more than its limit (in
/// the burst bench one coming into rotation sometimes takes up to 200 over it; the rebalance
/// moves that excess). It goes back up once nothing starts.
public enum ServerConnectionLimit {
    /// The per-server limit for `snapshot` under `configuration`.
    /// - Parameters:
    ///   - launching: servers being launched that the snapshot does not show yet.
    ///   - previous: the limit in force, if any.
    public static func perServer(_ snapshot: TopologySnapshot, launching: Int = 0, previous: Int? = nil,
                                 configuration: ScalingConfiguration) -> Int {
        var snapshot = snapshot
        for index in 0..<max(0, launching) {
            snapshot.instances.append(InstanceSnapshot(id: "launching-\(index)", state: .starting, sessions: 0))
        }
        let load = PoolLoad(snapshot, limit: configuration.connectionLimitPerHost)
        let hardLimit = max(1, configuration.maxConnectionsPerHost)
        let threshold = configuration.maxUtilizationPercent.saturatingAdding(configuration.overutilizedTolerancePercent)
        let hundredfold = load.limit.saturatingMultiplied(by: max(0, threshold))
        let steady = hundredfold / 100 + (hundredfold % 100 == 0 ? 0 : 1)
        let servers = max(1, load.capacityServers)
        let share = load.demand / servers + (load.demand % servers == 0 ? 0 : 1)
        let canGrow = load.total < configuration.maxInstances
        var limit: Int
        if !canGrow {
            // No server is coming: each takes its share of what is asked, as far as it may.
            limit = max(steady, share)
        } else if load.queued > 0, !load.starting.isEmpty {
            limit = min(steady, share)
        } else {
            limit = steady
        }
        if let previous, canGrow, !load.starting.isEmpty {
            limit = min(limit, previous)
        }
        return min(max(1, limit), hardLimit)
    }
}
