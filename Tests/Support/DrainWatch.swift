import Foundation

/// The rule "draining a server cuts none of its users", checked sample by sample.
///
/// When a server is first seen draining, every user connected to it is remembered with its
/// reconnect count. From then on, until the scenario disconnects that user on purpose, the
/// user must stay connected to the same server with the same reconnect count: the balancer
/// may only wait for a draining server to empty, not close its sessions.
public final class DrainWatch: @unchecked Sendable {
    private struct Watched {
        var host: String
        var reconnectCount: Int
    }

    private let lock = NSLock()
    private var watched: [String: Watched] = [:]
    private var released: Set<String> = []

    /// Creates a watch with no user watched.
    public init() {}

    /// Users that were watched at some point (on a draining server).
    public var watchedUsers: Set<String> { lock.withLock { Set(watched.keys) } }

    /// Says that these users are about to be disconnected on purpose: they are no longer watched.
    public func release(_ users: [String]) {
        lock.withLock { released.formUnion(users) }
    }

    /// The observer for `StackSampler` (needs `readsClient: true`).
    public var observer: StackSampler.Observer {
        { [self] topology, client in
            guard let client else { return [] }
            return self.observe(topology, client)
        }
    }

    /// Checks one sample; returns the users that were cut.
    public func observe(_ topology: TopologySnapshot, _ client: ClientSnapshot) -> [String] {
        lock.withLock {
            let draining = Set(topology.draining.map(\.id))
            for user in client.users where user.state == "connected" && !released.contains(user.userId) {
                guard let host = user.host, draining.contains(host), watched[user.userId] == nil else { continue }
                watched[user.userId] = Watched(host: host, reconnectCount: user.reconnectCount)
            }
            var cut: [String] = []
            for user in client.users {
                guard let before = watched[user.userId], !released.contains(user.userId) else { continue }
                if user.state != "connected" || user.host != before.host || user.reconnectCount != before.reconnectCount {
                    cut.append("user \(user.userId) on draining server \(before.host) was cut: now \(user.state) on "
                               + "\(user.host ?? "no server"), reconnects \(before.reconnectCount) → \(user.reconnectCount), "
                               + "last close code \(user.lastCloseCode.map(String.init) ?? "none")")
                    released.insert(user.userId) // reported once
                }
            }
            return cut
        }
    }
}
