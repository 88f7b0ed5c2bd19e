import WSScaleCore

/// The Redis users `wsscale up` runs its redis-server with: the `default` user is off, the
/// balancer and the servers each log in as a user of their own, allowed only the commands and
/// the keys and channels (`P:*`, `RedisKeySchema`) that they use.
///
/// - `wsscale-server`: its registry writes (`HSET`/`HDEL`/`PEXPIRE`/`ZADD`/`ZREM`/`DEL` in a
///   `MULTI`), the reads of `GET /ws-session/all`, `PUBLISH` to `P:events` and `P:cmd:*` (a drop
///   for another host), `SUBSCRIBE` to `P:cmd:*`. No `FLUSHALL`, `CONFIG`, `KEYS`, `ACL`, `EVAL`,
///   nothing outside `P:hosts` and `P:host:*`.
/// - `wsscale-balancer`: the topology reads, its two Lua scripts (`EVAL`: expiring a dead host,
///   setting the draining flag), `PUBLISH`/`SUBSCRIBE` on `P:*`, `INFO` (the readiness check).
///
/// Passwords are 64 random hex digits, written only to the ACL file (0600 in the state
/// directory) and to the environment of the processes that use them.
public struct RedisACL: Sendable, Equatable {
    /// The balancer's user name.
    public static let balancerUser = "wsscale-balancer"
    /// The servers' user name.
    public static let serverUser = "wsscale-server"

    /// Commands the servers' user may run (besides connection set-up: `AUTH`, `HELLO`, `SELECT`, `PING`).
    public static let serverCommands = ["hset", "hdel", "hget", "hlen", "hscan", "pexpire", "zadd", "zrem",
                                        "zrangebyscore", "del", "multi", "exec", "discard", "publish",
                                        "subscribe", "unsubscribe"]
    /// Commands the balancer's user may run (besides connection set-up).
    public static let balancerCommands = ["zrangebyscore", "zscore", "zrem", "hlen", "hget", "hscan", "hset",
                                          "exists", "del", "eval", "publish", "subscribe", "psubscribe",
                                          "unsubscribe", "punsubscribe", "info"]
    private static let connectionCommands = ["auth", "hello", "select", "ping", "quit", "reset"]

    /// The key prefix the users are confined to.
    public let keyPrefix: String
    /// The balancer's password.
    public let balancerPassword: String
    /// The servers' password.
    public let serverPassword: String

    /// Users for `keyPrefix` with the given passwords (64 hex digits each, see `generate`).
    public init(keyPrefix: String, balancerPassword: String, serverPassword: String) {
        self.keyPrefix = keyPrefix
        self.balancerPassword = balancerPassword
        self.serverPassword = serverPassword
    }

    /// Users for `keyPrefix` with fresh random passwords.
    public static func generate(keyPrefix: String) -> RedisACL {
        RedisACL(keyPrefix: keyPrefix, balancerPassword: AdminToken.generate().value,
                 serverPassword: AdminToken.generate().value)
    }

    /// The users of an ACL file this type wrote, when it is for `keyPrefix` (so a new `up` in
    /// the same state directory keeps the passwords of the servers it adopts); `nil` otherwise.
    public static func parse(_ text: String, keyPrefix: String) -> RedisACL? {
        func password(_ user: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("user \(user) ") }?
                .split(separator: " ").first { $0.hasPrefix(">") }.map { String($0.dropFirst()) }
        }
        guard let balancer = password(balancerUser), let server = password(serverUser),
              [balancer, server].allSatisfy({ AdminToken.problem(with: $0) == nil }) else { return nil }
        let acl = RedisACL(keyPrefix: keyPrefix, balancerPassword: balancer, serverPassword: server)
        return acl.fileText() == text ? acl : nil
    }

    /// The ACL file's text (`aclfile` format: one `user` line each).
    public func fileText() -> String {
        let p = keyPrefix
        func commands(_ names: [String]) -> String {
            (Self.connectionCommands + names).map { "+\($0)" }.joined(separator: " ")
        }
        return [
            "user default off resetkeys resetchannels -@all",
            "user \(Self.balancerUser) on >\(balancerPassword) resetkeys resetchannels ~\(p):* &\(p):* -@all \(commands(Self.balancerCommands))",
            "user \(Self.serverUser) on >\(serverPassword) resetkeys resetchannels ~\(p):hosts ~\(p):host:* &\(p):cmd:* &\(p):events -@all \(commands(Self.serverCommands))",
        ].joined(separator: "\n") + "\n"
    }

    /// The balancer's address at `host:port`.
    public func balancerURL(host: String, port: Int) -> RedisURL {
        RedisURL(host: host, port: port, username: Self.balancerUser, password: balancerPassword)
    }

    /// The servers' address at `host:port`.
    public func serverURL(host: String, port: Int) -> RedisURL {
        RedisURL(host: host, port: port, username: Self.serverUser, password: serverPassword)
    }
}
