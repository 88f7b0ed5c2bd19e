import WSScaleCore
import Logging
import NIOCore

/// Keeps a pub/sub subscription (and whatever work goes with it) alive across Redis
/// outages: connects, subscribes, runs the work; when the work fails because Redis went
/// away, waits with exponential backoff and jitter and starts over. Never gives up;
/// ends only when the task is cancelled.
struct RedisReconnectLoop: Sendable {
    /// The waits between reconnect attempts: 0.1 s doubling to 2 s, each picked between half
    /// and the full ceiling, so many servers do not reconnect in lockstep after a Redis restart.
    static let backoff = Backoff(base: .milliseconds(100), cap: .seconds(2), jitter: .half)

    let url: RedisURL
    let eventLoopGroup: EventLoopGroup
    let logger: Logger
    /// The channels to subscribe to on each connection.
    let channels: [String]

    /// Runs until cancelled.
    /// - Parameter work: runs on each new subscription; `reconnected` is true after an
    ///   outage. It should run until cancelled and throw when Redis goes away.
    func run(_ work: @escaping @Sendable (_ subscriber: RedisSubscriber, _ reconnected: Bool) async throws -> Void) async {
        var failures = 0
        var hadOutage = false
        while !Task.isCancelled {
            var subscriber: RedisSubscriber?
            do {
                let connected = try await RedisSubscriber.connect(to: url, eventLoopGroup: eventLoopGroup, logger: logger)
                subscriber = connected
                try await connected.subscribe(channels)
                failures = 0
                if hadOutage { logger.info("Redis reachable again", metadata: ["redis": "\(url)"]) }
                try await work(connected, hadOutage)
                hadOutage = false
            } catch {
                if !Task.isCancelled {
                    hadOutage = true
                    failures += 1
                    let delay = Self.backoff.delay(forAttempt: failures)
                    logger.warning("Redis unreachable, retrying",
                                   metadata: ["redis": "\(url)", "error": "\(error)", "retryIn": "\(delay)"])
                    try? await Task.sleep(for: delay)
                }
            }
            await subscriber?.close()
        }
    }
}

/// Runs both operations until the first one ends (returns or throws), then cancels the other.
func untilEitherEnds(_ first: @escaping @Sendable () async throws -> Void,
                     _ second: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask(operation: first)
        group.addTask(operation: second)
        try await group.next()
        group.cancelAll()
    }
}
