import Foundation
import WSScaleCore

/// What one slowloris attack on an HTTP listener measured (``SlowlorisCrowd/attack(port:count:limits:)``):
/// how long opening the crowd took, how `/health` answered while it was held, and when the
/// listener had closed every socket.
public struct SlowlorisFigures: Sendable, CustomStringConvertible {
    /// Sockets in the crowd.
    public var count: Int
    /// Time to open them all.
    public var opened: Duration
    /// Sockets closed to keep the listener's bound, before `/health` was asked.
    public var evicted: Int
    /// `/health`'s status during the attack.
    public var healthStatus: Int
    /// How long `/health` took to answer.
    public var healthTime: Duration
    /// Sockets the listener had closed at the end (all of them when it keeps its deadline).
    public var closed: Int
    /// From the first connect to the last close.
    public var allClosedAfter: Duration
    /// The listener's limits during the attack.
    public var limits: HTTPListenerLimits

    public var description: String {
        "\(count) half requests opened in \(opened); /health answered \(healthStatus) in \(healthTime) during the attack; "
            + "\(closed) of \(count) closed \(allClosedAfter) after the first (timeout \(limits.requestTimeout), bound \(limits.maxConnections))"
    }
}

extension SlowlorisCrowd {
    /// Attacks the HTTP listener on 127.0.0.1:`port` with `count` half-sent requests and asks
    /// `GET /health` while they are held (once the listener has closed the oldest to keep
    /// `limits.maxConnections`), then waits until it has closed them all (its request
    /// timeout). The caller checks the figures.
    public static func attack(port: Int, count: Int = 5000, limits: HTTPListenerLimits) async throws -> SlowlorisFigures {
        try await oneCrowdAtATime { try await attackNow(port: port, count: count, limits: limits) }
    }

    private static func attackNow(port: Int, count: Int, limits: HTTPListenerLimits) async throws -> SlowlorisFigures {
        let clock = ContinuousClock()
        let start = clock.now
        let crowd = try await SlowlorisCrowd.open(count: count, port: port)
        let opened = clock.now - start
        let evicted = await crowd.waitUntilClosed(atLeast: count - limits.maxConnections, timeout: .seconds(30))
        let healthStart = clock.now
        let health = try await RawHTTPClient.request("GET", "/health", port: port)
        let healthTime = clock.now - healthStart
        let closed = await crowd.waitUntilClosed(atLeast: count, timeout: .seconds(60))
        return SlowlorisFigures(count: count, opened: opened, evicted: evicted, healthStatus: health.status,
                                healthTime: healthTime, closed: closed, allClosedAfter: clock.now - start,
                                limits: limits)
    }
}

extension SlowlorisCrowd {
    /// Runs `body`, which opens a crowd of thousands, when no other such crowd is open in this
    /// test process: suites of different targets run side by side, and two crowds of 5,000
    /// beside everything else could reach the process's descriptor limit.
    public static func oneCrowdAtATime<T>(_ body: () async throws -> T) async throws -> T {
        await LargeCrowdTurn.shared.take()
        do {
            let result = try await body()
            await LargeCrowdTurn.shared.give()
            return result
        } catch {
            await LargeCrowdTurn.shared.give()
            throw error
        }
    }
}

/// The turn of one large slowloris crowd at a time (``SlowlorisCrowd/oneCrowdAtATime(_:)``): first come, first served.
actor LargeCrowdTurn {
    static let shared = LargeCrowdTurn()
    private var taken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func take() async {
        guard taken else { taken = true; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func give() {
        if waiting.isEmpty { taken = false } else { waiting.removeFirst().resume() }
    }
}
