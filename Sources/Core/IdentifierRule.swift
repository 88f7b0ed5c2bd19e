/// The rule for ids that travel in paths and registry keys: 1 to `maxLength` characters of
/// `[A-Za-z0-9._@-]`. The one definition the server (paths, `SERVER_ID`) and the client
/// simulator (batch requests) both apply.
public struct IdentifierRule: Sendable {
    /// What the id is, for messages ("user id").
    public var name: String
    /// Longest id allowed.
    public var maxLength: Int

    /// User ids in `/api/v1/websocket/{userId}`.
    public static let userId = IdentifierRule(name: "user id", maxLength: 128)
    /// Server (host) ids.
    public static let serverId = IdentifierRule(name: "server id", maxLength: 64)

    /// Creates a rule.
    public init(name: String, maxLength: Int) {
        self.name = name
        self.maxLength = maxLength
    }

    /// Why `text` is not a valid id, or `nil` when it is.
    public func problem(with text: Substring) -> String? {
        if text.isEmpty { return "\(name) is empty" }
        if text.utf8.count > maxLength { return "\(name) is longer than \(maxLength) characters" }
        if let bad = text.unicodeScalars.first(where: { !Self.isAllowed($0) }) {
            return "\(name) may contain only letters, digits and . _ @ - (found \"\(bad.escaped(asASCII: true))\")"
        }
        return nil
    }

    /// Why `text` is not a valid id, or `nil` when it is.
    public func problem(with text: String) -> String? {
        problem(with: Substring(text))
    }

    /// Whether `text` is a valid id.
    public func isValid(_ text: String) -> Bool {
        problem(with: text) == nil
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "@", "-": return true
        default: return false
        }
    }
}
