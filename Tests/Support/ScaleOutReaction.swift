import NIOCore
import WSScaleCore

/// The scale-out reaction of a running stack, measured from outside: from the WebSocket
/// upgrade request (through HAProxy on 127.0.0.1) of the session that takes the one server above
/// MAX_UTILIZATION_PERCENT + OVERUTILIZED_TOLERANCE_PERCENT (9 of 10 = 90 % > 80 %) to a new
/// server in rotation (the balancer's topology shows it active and HAProxy ready; polled
/// every 10 ms). Between samples every connection is closed and the pool scales back in to
/// one idle server.
public enum ScaleOutReaction {
    /// A failed measurement.
    public struct Failure: Error, CustomStringConvertible {
        /// What did not happen.
        public var description: String
    }

    /// Measures `samples` reactions, one after the other.
    /// - Parameters:
    ///   - samples: how many.
    ///   - traffic: HAProxy's traffic endpoint on 127.0.0.1.
    ///   - topology: the balancer's `GET /api/topology`.
    /// - Returns: each sample's reaction, in order. Closes every connection it opened, also when it throws.
    public static func measure(samples: Int, traffic: Endpoint,
                               topology: @escaping @Sendable () async throws -> BalancerTopology) async throws -> [Duration] {
        let clock = ContinuousClock()
        var measured: [Duration] = []
        var open: [any Channel] = []
        defer { for channel in open { channel.close(promise: nil) } }
        for sample in 0..<samples {
            let settled = await TestSupport.eventually(timeout: .seconds(60)) {
                let current = try await topology()
                return current.instances.count == 1 && current.inRotation.count == 1 && current.totalSessions == 0
            }
            guard settled else { throw Failure(description: "sample \(sample): the pool did not settle at one idle server in rotation") }
            let before = Set(try await topology().instances.map(\.id))
            for index in 0..<8 {
                open.append(try await RawHTTPClient.openUpgradedConnection(traffic, path: "/api/v1/websocket/reaction-\(sample)-\(index)", timeout: .seconds(5)))
            }
            let registered = await TestSupport.eventually(timeout: .seconds(10)) { try await topology().totalSessions == 8 }
            guard registered else { throw Failure(description: "sample \(sample): 8 sessions were not registered") }
            try await Task.sleep(for: .milliseconds(300))
            guard try await topology().instances.count == 1 else { throw Failure(description: "sample \(sample): 80 % scaled out") }

            // From the moment the crossing user knocks: its connection waits in HAProxy's queue
            // (every server in rotation is at its connection limit, the threshold) until the
            // new server is in rotation, so its upgrade ends only then.
            let crossed = clock.now
            open.append(try await RawHTTPClient.openUpgradedConnection(traffic, path: "/api/v1/websocket/reaction-\(sample)-8", timeout: .seconds(15)))
            var reaction: Duration?
            while reaction == nil, clock.now - crossed < .seconds(30) {
                if try await topology().inRotation.contains(where: { !before.contains($0.id) }) {
                    reaction = clock.now - crossed
                } else {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            guard let reaction else { throw Failure(description: "sample \(sample): no new server in rotation within 30 s") }
            measured.append(reaction)
            for channel in open { try? await channel.close() }
            open.removeAll()
        }
        return measured
    }

    /// The median of some durations (the upper middle one of an even count).
    public static func median(_ samples: [Duration]) -> Duration {
        samples.sorted()[samples.count / 2]
    }
}
