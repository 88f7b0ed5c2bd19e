#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules for settings whose text reaches another program verbatim (Redis keys,
/// HAProxy's configuration file and runtime API commands), and the sane maxima of the
/// integer knobs. Pure: each rule returns why a value is refused, or `nil`.
///
/// These are allow-lists: a value that HAProxy or Redis would read as more than one word
/// (a space, a tab, `;` between runtime API commands, `#` starting a comment in
/// `haproxy.cfg`, quotes, `$` expanding a variable) is refused when the configuration is
/// read, so it can never inject a command or a configuration line.
public enum SettingRule {
    /// The most characters of a `REDIS_KEY_PREFIX`.
    public static let redisKeyPrefixMaxLength = 64
    /// The most characters of a `HAPROXY_BACKEND` name.
    public static let haproxyNameMaxLength = 64
    /// The most characters of a `WSSCALE_POOL` name.
    public static let poolMaxLength = 64
    /// The most connections per server a knob may name (`CONNECTION_LIMIT_PER_HOST`,
    /// `MAX_CONNECTIONS_PER_HOST`): the same bound the server applies to its hard limit.
    public static let maxConnectionsPerServer = 1_000_000
    /// The most servers a pool may have (`MIN_INSTANCES`, `MAX_INSTANCES`).
    public static let maxInstances = 10_000
    /// The most rebalancing moves per second (`REBALANCE_MAX_MOVES_PER_SECOND`), and the largest
    /// count a `shed N` command carries (larger ones are lowered to it).
    public static let maxShed = 1_000_000

    /// `REDIS_KEY_PREFIX`: 1–64 characters of `[A-Za-z0-9._:-]`.
    public static func redisKeyPrefixProblem(_ prefix: String) -> String? {
        allowListProblem(prefix, maxLength: redisKeyPrefixMaxLength, extra: "._:-",
                         rule: "letters, digits, '.', '_', ':' or '-'")
    }

    /// `HAPROXY_BACKEND` (and server names): 1–64 characters of `[A-Za-z0-9._:-]`, HAProxy's
    /// own rule for proxy names.
    public static func haproxyNameProblem(_ name: String) -> String? {
        allowListProblem(name, maxLength: haproxyNameMaxLength, extra: "._:-",
                         rule: "letters, digits, '.', '_', ':' or '-'")
    }

    /// `WSSCALE_POOL`: 1–64 characters of `[A-Za-z0-9._-]`, and not `.` or `..`: it names
    /// containers, systemd units and a folder of the state directory.
    public static func poolProblem(_ pool: String) -> String? {
        if pool == "." || pool == ".." { return "must not be \"\(pool)\" (it names a folder)" }
        return allowListProblem(pool, maxLength: poolMaxLength, extra: "._-", rule: "letters, digits, '.', '_' or '-'")
    }

    /// `BALANCER_ID`: 1–64 characters of `[A-Za-z0-9._@-]`: it names the balancer in the
    /// leadership lease, the logs and `/api/topology`.
    public static func balancerIDProblem(_ id: String) -> String? {
        allowListProblem(id, maxLength: 64, extra: "._@-", rule: "letters, digits, '.', '_', '@' or '-'")
    }

    /// A host to listen on or reach (`LB_HOST`): an IPv4 or IPv6 address, or a DNS name
    /// (labels of letters, digits and '-', not starting or ending with '-', at most 63
    /// characters each, 253 in all).
    public static func hostProblem(_ host: String) -> String? {
        if isIPAddress(host) || isDNSName(host) { return nil }
        return "must be an IP address or a DNS name, got \"\(escaped(host))\""
    }

    /// A directory whose path goes into `haproxy.cfg` and pid files (`WSSCALE_STATE_DIR`):
    /// no control characters, no whitespace, none of `; # " ' \ $` (each means something
    /// to HAProxy's configuration parser), at most 1024 bytes.
    public static func stateDirectoryProblem(_ path: String) -> String? {
        if path.isEmpty { return "must not be empty" }
        if path.utf8.count > 1024 { return "must be at most 1024 bytes long" }
        if let bad = path.unicodeScalars.first(where: { $0.properties.generalCategory == .control || $0.properties.isWhitespace
            || ";#\"'\\$".unicodeScalars.contains($0) }) {
            return "must not contain whitespace, control characters or any of ; # \" ' \\ $ (found \"\(bad.escaped(asASCII: true))\" in \"\(escaped(path))\")"
        }
        return nil
    }

    /// Whether `host` is an IPv4 or IPv6 address in text form.
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Whether `name` is a DNS name (RFC 1123 labels).
    public static func isDNSName(_ name: String) -> Bool {
        let text = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { isASCIIAlphanumeric($0) || $0 == "-" }
        }
    }

    private static func allowListProblem(_ text: String, maxLength: Int, extra: String, rule: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.utf8.count > maxLength { return "must be at most \(maxLength) characters, got \(text.utf8.count)" }
        if let bad = text.unicodeScalars.first(where: { !isASCIIAlphanumeric($0) && !extra.unicodeScalars.contains($0) }) {
            return "must be \(rule) (found \"\(bad.escaped(asASCII: true))\" in \"\(escaped(text))\")"
        }
        return nil
    }

    private static func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// The text with control characters escaped, safe to print on one line.
    public static func escaped(_ text: String) -> String {
        text.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
    }
}

extension EnvironmentReader {
    /// A string setting checked by `rule` (one of `SettingRule`'s); a refused value is reported
    /// under `name` and the default is returned.
    public mutating func string(_ name: String, default defaultValue: String, rule: (String) -> String?) -> String {
        let value = string(name, default: defaultValue)
        if let problem = rule(value) {
            report(name, problem)
            return defaultValue
        }
        return value
    }
}
