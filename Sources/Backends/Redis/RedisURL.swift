import Foundation
import WSScaleCore

/// Where a Redis server is and how to log in:
///
/// - `redis://[[user]:password@]host[:port][/db]`: one Redis server (port 6379 unless given);
/// - `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/master[/db]`: the master
///   named `master` that the listed Redis Sentinels monitor (port 26379 unless given); every
///   connection asks the sentinels where the master is now, so it follows a failover. The
///   credentials are the master's (and its replicas'); the sentinels are asked without.
///
/// Examples: `redis://127.0.0.1`, `redis://127.0.0.1:6380/2`, `redis://:s3cret@redis:6379/0`,
/// `redis://app:s3cret@[::1]:6379`, `redis+sentinel://app:s3cret@10.0.0.5,10.0.0.6,10.0.0.7/wsscale`.
/// The password may be percent-encoded (`%40` for `@`).
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets); with `sentinel`, the first sentinel's.
    public var host: String
    /// TCP port (6379 unless given); with `sentinel`, the first sentinel's.
    public var port: Int
    /// ACL user name for `AUTH user password`; `nil` logs in as the default user.
    public var username: String?
    /// Password for `AUTH`; `nil` means no `AUTH` at all.
    public var password: String?
    /// Database number for `SELECT` (0 unless given).
    public var database: Int
    /// The sentinels to ask for the master, when the URL is `redis+sentinel://`.
    public var sentinel: RedisSentinelGroup?

    /// The port a sentinel listens on unless the URL gives one.
    public static let defaultSentinelPort = 26379

    /// Creates a URL from its parts.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Creates the URL of the master a group of sentinels monitors.
    public init(sentinel: RedisSentinelGroup, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.init(host: sentinel.sentinels[0].host, port: sentinel.sentinels[0].port,
                  username: username, password: password, database: database)
        self.sentinel = sentinel
    }

    /// Parses a `redis://` or `redis+sentinel://` URL.
    /// - Parameters:
    ///   - text: the URL.
    ///   - variable: the configuration variable it came from, named in errors.
    /// - Throws: `ConfigurationError` naming `variable` and saying what is wrong.
    public init(parsing text: String, variable: String = "REDIS_URL") throws {
        let lowered = text.lowercased()
        let isSentinel = lowered.hasPrefix(Self.sentinelScheme)
        let expected = isSentinel ? Self.sentinelForm : Self.directForm
        func fail(_ message: String) -> ConfigurationError {
            ConfigurationError(issues: [ConfigurationIssue(
                variable: variable,
                message: "\(message) (got \"\(RedisSchemeRule.shownWithoutCredentials(text))\"; expected \(expected))")])
        }
        if lowered.hasPrefix("rediss://") {
            throw ConfigurationError(issues: [ConfigurationIssue(variable: variable, message: RedisSchemeRule.tlsProblem)])
        }
        guard isSentinel || lowered.hasPrefix(Self.directScheme) else {
            throw fail("must start with \(Self.directScheme) or \(Self.sentinelScheme)")
        }
        var rest = Substring(text.dropFirst(isSentinel ? Self.sentinelScheme.count : Self.directScheme.count))
        if rest.contains("?") || rest.contains("#") { throw fail("query parameters and fragments are not supported") }

        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw fail("credentials need a password: use :password@ or user:password@")
            }
            let user = userInfo[..<colon]
            guard let user = Self.percentDecoded(user), let secret = Self.percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                throw fail("credentials contain an invalid percent escape")
            }
            guard !secret.isEmpty else { throw fail("the password is empty") }
            username = user.isEmpty ? nil : user
            password = secret
        }

        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        func database(_ text: Substring) throws -> Int {
            if text.isEmpty { return 0 }
            guard let number = Int(text), number >= 0 else { throw fail("the database must be a number of 0 or more") }
            return number
        }

        if isSentinel {
            let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let master = parts.first ?? ""
            guard !master.isEmpty else { throw fail("the master's name is missing after the sentinels") }
            guard master.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw fail("the master's name may hold only letters, digits, '-', '_' and '.'")
            }
            var sentinels: [RedisEndpoint] = []
            for item in rest.split(separator: ",", omittingEmptySubsequences: false) {
                let (host, port) = try Self.hostAndPort(item, defaultPort: Self.defaultSentinelPort, fail: fail)
                sentinels.append(RedisEndpoint(host: host, port: port))
            }
            guard Set(sentinels).count == sentinels.count else { throw fail("a sentinel is listed twice") }
            self.init(sentinel: RedisSentinelGroup(sentinels: sentinels, masterName: String(master)),
                      username: username, password: password, database: try database(parts.count > 1 ? parts[1] : ""))
        } else {
            let (host, port) = try Self.hostAndPort(rest, defaultPort: 6379, fail: fail)
            self.init(host: host, port: port, username: username, password: password, database: try database(path))
        }
    }

    private static let directScheme = "redis://"
    private static let sentinelScheme = "redis+sentinel://"
    private static let directForm = "redis://[[user]:password@]host[:port][/db]"
    private static let sentinelForm = "redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]"

    /// `host[:port]` or `[ipv6][:port]`.
    private static func hostAndPort(_ text: Substring, defaultPort: Int,
                                    fail: (String) -> ConfigurationError) throws -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail("an IPv6 address needs a closing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        var port = defaultPort
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("the port must be a number from 1 to 65535")
            }
            port = number
        }
        return (String(host), port)
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        rendered(credentials: password == nil ? "" : "\(username ?? ""):***@")
    }

    /// The URL with its credentials, for passing to a server's environment (never log it).
    public var connectionString: String {
        var credentials = ""
        if let password {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            let user = username?.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
            credentials = "\(user):\(password.addingPercentEncoding(withAllowedCharacters: allowed) ?? password)@"
        }
        return rendered(credentials: credentials)
    }

    private func rendered(credentials: String) -> String {
        guard let sentinel else {
            return "\(Self.directScheme)\(credentials)\(RedisEndpoint(host: host, port: port))/\(database)"
        }
        let sentinels = sentinel.sentinels.map(\.description).joined(separator: ",")
        return "\(Self.sentinelScheme)\(credentials)\(sentinels)/\(sentinel.masterName)/\(database)"
    }

    /// Decodes `%XX` escapes; `nil` when an escape is malformed or the bytes are not UTF-8.
    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A TCP address of a Redis server or sentinel.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The Redis Sentinels that monitor a master, and the master's name among them
/// (`sentinel monitor <name> …` in their configuration).
public struct RedisSentinelGroup: Sendable, Hashable {
    /// The sentinels, asked in this order.
    public var sentinels: [RedisEndpoint]
    /// The master's name.
    public var masterName: String

    /// Creates a group; `sentinels` must not be empty.
    public init(sentinels: [RedisEndpoint], masterName: String) {
        precondition(!sentinels.isEmpty, "a sentinel group needs at least one sentinel")
        self.sentinels = sentinels
        self.masterName = masterName
    }
}
