/// What can go wrong talking to Redis.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error reply.
    case errorReply(String)
    /// The connection closed (or was never open) before the reply came.
    case connectionClosed
    /// The bytes from the server are not valid RESP.
    case protocolError(String)
    /// A reply had a shape the caller did not expect.
    case unexpectedReply(String)
    /// No reply came within the deadline (a stalled or paused Redis); the connection is closed.
    case timedOut(String)

    public var description: String {
        switch self {
        case .errorReply(let message): return "Redis answered with an error: \(message)"
        case .connectionClosed: return "the Redis connection is closed"
        case .protocolError(let message): return "Redis protocol error: \(message)"
        case .unexpectedReply(let message): return "unexpected Redis reply: \(message)"
        case .timedOut(let message): return "Redis did not answer in time: \(message)"
        }
    }
}
