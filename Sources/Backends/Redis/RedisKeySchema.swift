import WSScaleCore

/// The names of wsscale's keys and channels in Redis, all under one prefix `P`
/// (default `wsscale`), so two pools can share one Redis by using two prefixes.
///
/// | Key / channel             | Type        | Contents                                                      |
/// |---------------------------|-------------|---------------------------------------------------------------|
/// | `P:hosts`                 | sorted set  | member = host id, score = lease expiry (ms since 1970)        |
/// | `P:host:{id}:sessions`    | hash        | field = session id, value = `SessionRecord` as JSON           |
/// |                           |             | (`userId`, `sessionId`, `hostId`, `connectedAt`, `lastActive`);|
/// |                           |             | `PEXPIRE` = lease, renewed with it: a dead host's records vanish |
/// | `P:host:{id}:meta`        | hash        | `draining` = `1` / `0` (the balancer's record), `hostDraining` = `1` / `0` (what the host says, written at each renewal); same `PEXPIRE` as the sessions |
/// | `P:host:{id}:orders`      | hash        | the balancer's orders waiting for one host: `shed` = N, `state` = `drain` / `activate` (the latest of each kind); `PEXPIRE` = `RedisKeySchema.orderLifetime`; the host takes and deletes it in one `MULTI` |
/// | `P:events`                | channel     | message = host id whose session count changed (coalesced)     |
/// | `P:cmd:{id}`              | channel     | the doorbell of `P:host:{id}:orders`: the order's text (`shed N`, `drain`, `activate`), for logs; the host acts on what it takes from the hash |
/// | `P:drop:{id}`             | channel     | another host's requests for one host: `drop ID`, `shed 1` (REST drop) |
/// | `P:leader`                | string      | the balancers' leadership lease: `holder TAB token TAB since`, `PEXPIRE` = one lease (`RedisLeaderLease`) |
/// | `P:leader:token`          | string      | the last fencing token given (`INCR`)                          |
///
/// Reads: the topology is `ZRANGEBYSCORE P:hosts now +inf` plus one pipelined `HLEN` and
/// `HGET draining` per host (O(hosts)); the full session list is `HSCAN` per live host.
/// No `KEYS`, no key per session. Pub/sub channels are global to a Redis server (not per
/// database), so the prefix, not the database number, is what separates pools.
///
/// Lease times come from the servers' clocks; servers and balancer are expected to share a
/// clock (one machine, or NTP) to well under a lease.
public struct RedisKeySchema: Sendable, Equatable {
    /// The prefix of every key and channel.
    public let prefix: String

    /// Creates the schema for a pool.
    ///
    /// Decision: a precondition, not a throw. The prefix comes only from `REDIS_KEY_PREFIX`,
    /// which the server's and the balancer's configuration reading check with the same rule
    /// (`SettingRule.redisKeyPrefixProblem`, exit status 2 naming the variable), so a bad one
    /// here is a programming error.
    /// - Parameter prefix: 1–64 characters of `[A-Za-z0-9._:-]` (default `wsscale`).
    public init(prefix: String = "wsscale") {
        if let problem = SettingRule.redisKeyPrefixProblem(prefix) { preconditionFailure("REDIS_KEY_PREFIX \(prefix): \(problem)") }
        self.prefix = prefix
    }

    /// The sorted set of hosts by lease expiry.
    public var hosts: String { "\(prefix):hosts" }
    /// The hash of one host's sessions.
    public func sessions(of host: InstanceID) -> String { "\(prefix):host:\(host):sessions" }
    /// The hash of one host's flags (`draining`).
    public func meta(of host: InstanceID) -> String { "\(prefix):host:\(host):meta" }
    /// The channel of change notifications.
    public var events: String { "\(prefix):events" }
    /// The hash of the balancer's orders waiting for one host (`shed`, `state`).
    public func orders(of host: InstanceID) -> String { "\(prefix):host:\(host):orders" }
    /// How long an order waits for a host that is not listening: a server back within it
    /// carries it out; past it, the balancer's next decision, made on fresh counts, counts.
    public static let orderLifetime: Duration = .seconds(10)
    /// The doorbell channel of one host's orders.
    public func commands(for host: InstanceID) -> String { "\(prefix):cmd:\(host)" }
    /// The balancers' leadership lease.
    public var leader: String { "\(prefix):leader" }
    /// The counter of fencing tokens.
    public var leaderToken: String { "\(prefix):leader:token" }
    /// The channel on which other hosts ask one host to drop a session (a server's Redis
    /// user may publish here for any host, but not on `commands(for:)`).
    public func drops(for host: InstanceID) -> String { "\(prefix):drop:\(host)" }
}
