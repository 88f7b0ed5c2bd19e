/// A message published on a channel this connection subscribed to.
public struct RedisPubSubMessage: Sendable, Equatable {
    /// The channel it was published on.
    public var channel: String
    /// The pattern that matched, for `PSUBSCRIBE`; `nil` for `SUBSCRIBE`.
    public var pattern: String?
    /// The message body.
    public var payload: String

    /// Creates a message.
    public init(channel: String, pattern: String? = nil, payload: String) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// Recognizes a pushed `message` / `pmessage` array; `nil` for any other reply.
    init?(push value: RedisValue) {
        guard let parts = value.array, let kind = parts.first?.string else { return nil }
        switch (kind, parts.count) {
        case ("message", 3):
            guard let channel = parts[1].string, let payload = parts[2].string else { return nil }
            self.init(channel: channel, payload: payload)
        case ("pmessage", 4):
            guard let pattern = parts[1].string, let channel = parts[2].string,
                  let payload = parts[3].string else { return nil }
            self.init(channel: channel, pattern: pattern, payload: payload)
        default:
            return nil
        }
    }
}
