import Logging
import NIOCore

/// Holds the current command connection and opens a new one when it is gone, with
/// concurrent callers sharing one connect attempt.
actor RedisConnectionSlot {
    private let url: RedisURL
    private let eventLoopGroup: EventLoopGroup
    private let logger: Logger
    private var current: RedisConnection?
    private var connecting: Task<RedisConnection, Error>?

    init(url: RedisURL, eventLoopGroup: EventLoopGroup, logger: Logger) {
        self.url = url
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// The open connection, or a new one.
    func connection() async throws -> RedisConnection {
        if let current, current.isActive { return current }
        if let connecting { return try await connecting.value }
        let (url, group, logger) = (self.url, self.eventLoopGroup, self.logger)
        let attempt = Task { try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger) }
        connecting = attempt
        defer { connecting = nil }
        let connection = try await attempt.value
        current = connection
        return connection
    }

    /// Closes the current connection, if any.
    func close() async {
        let connection = current
        current = nil
        await connection?.close()
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
