import Crypto
import Foundation
import WSScaleCore

/// The Redis users wsscale runs its redis-server with (`wsscale up`, compose, the Debian
/// package): the `default` user is off; the balancer logs in as `wsscale-balancer`, and each
/// server as a user of its own that the balancer makes when it launches it
/// (`RedisServerUser`), allowed only the commands, keys and channels that server uses.
///
/// - `wsscale-balancer`: the topology reads, its Lua scripts (`EVAL`: expiring a dead host,
///   setting the draining flag, claiming and releasing the leadership lease, which use `GET`,
///   `SET`, `INCR`), the servers' mailboxes (`HSET`, `PEXPIRE`), `PUBLISH`/`SUBSCRIBE` on `P:*`, `INFO` (the readiness check),
///   and `ACL SETUSER`/`DELUSER`/`GETUSER`/`USERS` to manage the servers' users. That last right
///   makes it Redis's administrator in effect: it is the control plane (it also starts and
///   stops the servers), and no other process holds its password.
/// - `wsscale-server-<id>`: see `RedisServerUser`.
///
/// The balancer's password is 64 random hex digits, written only to the ACL file (0600 in
/// the state directory) and to the balancer's environment. Each server's password is derived
/// from it (`RedisServerUser.password`), so a balancer that restarts, or a Redis that
/// restarts and forgets the users, gets the same passwords back without storing them.
public struct RedisACL: Sendable, Equatable {
    /// The balancer's user name.
    public static let balancerUser = "wsscale-balancer"

    /// Commands the balancer's user may run (besides connection set-up).
    public static let balancerCommands = ["zrangebyscore", "zscore", "zrem", "hlen", "hget", "hscan", "hset",
                                          "pexpire", "exists", "del", "eval", "get", "set", "incr",
                                          "publish", "subscribe", "psubscribe",
                                          "unsubscribe", "punsubscribe", "info",
                                          "acl|setuser", "acl|deluser", "acl|getuser", "acl|users"]
    /// Commands every user needs to open a connection.
    static let connectionCommands = ["auth", "hello", "select", "ping", "quit", "reset"]

    /// The key prefix the users are confined to.
    public let keyPrefix: String
    /// The balancer's password (also the secret the servers' passwords derive from).
    public let balancerPassword: String

    /// Users for `keyPrefix` with the given balancer password (64 hex digits, see `generate`).
    public init(keyPrefix: String, balancerPassword: String) {
        self.keyPrefix = keyPrefix
        self.balancerPassword = balancerPassword
    }

    /// Users for `keyPrefix` with a fresh random balancer password.
    public static func generate(keyPrefix: String) -> RedisACL {
        RedisACL(keyPrefix: keyPrefix, balancerPassword: AdminToken.generate().value)
    }

    /// The users of an ACL file this type wrote, when it is for `keyPrefix` (so a new `up` in
    /// the same state directory keeps the password, and its adopted servers theirs); `nil`
    /// otherwise. The commands allowed may be another version's: the caller writes the file
    /// again with `fileText()`, which gives this version's, so only the password is kept.
    public static func parse(_ text: String, keyPrefix: String) -> RedisACL? {
        let password = text.split(separator: "\n").first { $0.hasPrefix("user \(balancerUser) ") }?
            .split(separator: " ").first { $0.hasPrefix(">") }.map { String($0.dropFirst()) }
        guard let password, AdminToken.problem(with: password) == nil else { return nil }
        let acl = RedisACL(keyPrefix: keyPrefix, balancerPassword: password)
        let expected = acl.fileText().split(separator: "\n")
        let lines = text.split(separator: "\n")
        guard lines.count == expected.count else { return nil }
        // Each line as this type writes it up to " -@all", then single commands only (`+name`
        // or `+name|subcommand`: no category, no key or channel pattern).
        let same = zip(lines, expected).allSatisfy { line, expected in
            let head = expected.components(separatedBy: " -@all")[0] + " -@all"
            guard line.hasPrefix(head) else { return false }
            return line.dropFirst(head.count).split(separator: " ").allSatisfy { token in
                token.count > 1 && token.first == "+" && token.dropFirst().allSatisfy { $0.isLetter || $0 == "|" }
            }
        }
        return same ? acl : nil
    }

    /// The ACL file's text (`aclfile` format: one `user` line each). The servers' users are
    /// not in it: the balancer makes them at run time.
    public func fileText() -> String {
        let p = keyPrefix
        return [
            "user default off resetkeys resetchannels -@all",
            "user \(Self.balancerUser) on >\(balancerPassword) resetkeys resetchannels ~\(p):* &\(p):* -@all \(Self.allowing(Self.balancerCommands))",
        ].joined(separator: "\n") + "\n"
    }

    /// `+name` for each command, after the connection set-up ones.
    static func allowing(_ names: [String]) -> String {
        (connectionCommands + names).map { "+\($0)" }.joined(separator: " ")
    }

    /// The balancer's address at `host:port`.
    public func balancerURL(host: String, port: Int) -> RedisURL {
        RedisURL(host: host, port: port, username: Self.balancerUser, password: balancerPassword)
    }
}

/// One server's own Redis user, made by the balancer (`ACL SETUSER`) before it launches the
/// server, and deleted once the server is stopped. It may:
///
/// - write only its own records: `P:host:<id>:*` and its member of `P:hosts` (Redis cannot
///   limit a sorted set by member; a lease it removes is written back by its host's next
///   renewal);
/// - read every host's records (`GET /ws-session/all`);
/// - take the balancer's orders from its own mailbox `P:host:<id>:orders` (one of its own
///   keys) and hear their doorbell on `P:cmd:<id>` only, publish on `P:events`, and publish
///   a drop for another host on `P:drop:<host>` (`POST /ws-session/{host}/drop`); a server
///   takes only `drop <session>` and `shed 1` from that channel, never `drain`, `activate`
///   or a larger shed;
/// - run its registry commands, and none of `FLUSHALL`, `CONFIG`, `KEYS`, `EVAL`, `ACL`,
///   `MONITOR`, `SHUTDOWN`.
public struct RedisServerUser: Sendable, Equatable {
    /// Commands a server's user may run (besides connection set-up).
    public static let commands = ["hset", "hdel", "hget", "hgetall", "hlen", "hscan", "pexpire", "zadd", "zrem",
                                  "zrangebyscore", "del", "multi", "exec", "discard", "publish",
                                  "subscribe", "unsubscribe"]
    /// What every server's user name starts with.
    public static let namePrefix = "wsscale-server-"

    /// The server.
    public let id: InstanceID
    /// Its user name: `wsscale-server-<id>`.
    public let name: String
    /// Its password: HMAC-SHA256 of `<prefix>:<id>` under the balancer's password, in hex.
    public let password: String
    private let keyPrefix: String

    /// The user of server `id` under `acl`'s balancer password and key prefix.
    public init(id: InstanceID, acl: RedisACL) {
        self.init(id: id, keyPrefix: acl.keyPrefix, secret: acl.balancerPassword)
    }

    /// The user of server `id` for `keyPrefix`, its password derived from `secret`.
    public init(id: InstanceID, keyPrefix: String, secret: String) {
        self.id = id
        self.keyPrefix = keyPrefix
        name = Self.namePrefix + id
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(keyPrefix):\(id)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        password = code.map { String(format: "%02x", $0) }.joined()
    }

    /// `ACL SETUSER` making (or remaking) the user with exactly its rights.
    public var setUserCommand: [String] {
        let p = keyPrefix
        let schema = RedisKeySchema(prefix: p)
        return ["ACL", "SETUSER", name, "reset", "on", ">\(password)",
                "~\(schema.hosts)", "~\(p):host:\(id):*", "%R~\(p):host:*",
                "&\(schema.commands(for: id))", "&\(p):drop:*", "&\(schema.events)"]
            + RedisACL.allowing(Self.commands).split(separator: " ").map(String.init)
    }

    /// Its address: `base` with this user's name and password.
    public func url(at base: RedisURL) -> RedisURL {
        var url = base
        url.username = name
        url.password = password
        return url
    }
}
