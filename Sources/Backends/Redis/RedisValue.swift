/// One Redis reply (RESP2), decoded from hiredis' reply objects.
public enum RedisValue: Sendable, Equatable, Hashable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply such as `ERR unknown command`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string reply (decoded as UTF-8).
    case bulkString(String)
    /// A nil bulk string or nil array.
    case null
    /// A multi-bulk reply.
    indirect case array([RedisValue])

    /// The text of a bulk or status reply; `nil` otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text), .bulkString(let text): return text
        default: return nil
        }
    }

    /// The integer of an integer reply, or of a bulk string holding digits; `nil` otherwise.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString(let text): return Int64(text)
        default: return nil
        }
    }

    /// The elements of an array reply; `nil` otherwise.
    public var array: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is an error reply.
    public var isError: Bool {
        if case .error = self { return true }
        return false
    }
}
