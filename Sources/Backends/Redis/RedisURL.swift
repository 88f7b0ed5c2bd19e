import Foundation
import WSScaleCore

/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
///
/// Examples: `redis://127.0.0.1`, `redis://127.0.0.1:6380/2`, `redis://:s3cret@redis:6379/0`,
/// `redis://app:s3cret@[::1]:6379`. The password may be percent-encoded (`%40` for `@`).
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port (6379 unless given).
    public var port: Int
    /// ACL user name for `AUTH user password`; `nil` logs in as the default user.
    public var username: String?
    /// Password for `AUTH`; `nil` means no `AUTH` at all.
    public var password: String?
    /// Database number for `SELECT` (0 unless given).
    public var database: Int

    /// Creates a URL from its parts.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` URL.
    /// - Parameters:
    ///   - text: the URL.
    ///   - variable: the configuration variable it came from, named in errors.
    /// - Throws: `ConfigurationError` naming `variable` and saying what is wrong.
    public init(parsing text: String, variable: String = "REDIS_URL") throws {
        func fail(_ message: String) -> ConfigurationError {
            ConfigurationError(issues: [ConfigurationIssue(
                variable: variable,
                message: "\(message) (got \"\(RedisSchemeRule.shownWithoutCredentials(text))\"; expected redis://[[user]:password@]host[:port][/db])")])
        }
        let scheme = "redis://"
        if text.lowercased().hasPrefix("rediss://") {
            throw ConfigurationError(issues: [ConfigurationIssue(variable: variable, message: RedisSchemeRule.tlsProblem)])
        }
        guard text.lowercased().hasPrefix(scheme) else { throw fail("must start with redis://") }
        var rest = Substring(text.dropFirst(scheme.count))
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

        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw fail("the database must be a number of 0 or more")
                }
                database = number
            }
        }

        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("an IPv6 address needs a closing ]") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        var port = 6379
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("the port must be a number from 1 to 65535")
            }
            port = number
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        var credentials = ""
        if password != nil { credentials = "\(username ?? ""):***@" }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(shownHost):\(port)/\(database)"
    }

    /// The URL with its credentials, for passing to a server's environment (never log it).
    public var connectionString: String {
        var credentials = ""
        if let password {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            let user = username?.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
            credentials = "\(user):\(password.addingPercentEncoding(withAllowedCharacters: allowed) ?? password)@"
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(shownHost):\(port)/\(database)"
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
