import Logging
import NIOConcurrencyHelpers
import NIOCore
import WSScaleCore

/// A backend driver that gives each server a Redis user of its own (`RedisServerUser`):
/// made with `ACL SETUSER` before the server is launched, handed to it as its `REDIS_URL`,
/// deleted after it is stopped, and made again for every listed server that Redis has
/// forgotten (a Redis restart loses the users the balancer made; their passwords are
/// derived, so they come back the same). Wraps any backend: launching, listing, waiting,
/// stopping and exits are the backend's.
///
/// The balancer uses it when its `REDIS_URL` names a user (`RedisACL`).
public final class RedisServerUserDriver: InstanceDriver, @unchecked Sendable {
    /// The wrapped backend's name.
    public var name: String { backend.name }
    /// The wrapped backend.
    public let backend: any InstanceDriver
    private let acl: RedisACL
    private let serverURL: RedisURL
    private let slot: RedisConnectionSlot
    private let logger: Logger

    /// Wraps `backend`.
    /// - Parameters:
    ///   - backend: the driver that launches the servers.
    ///   - acl: the balancer's user (whose password the servers' passwords derive from) and the key prefix.
    ///   - balancerURL: where the balancer reaches Redis, as its own user (it runs `ACL`).
    ///   - serverURL: where the servers reach Redis; its user and password are replaced.
    public init(backend: any InstanceDriver, acl: RedisACL, balancerURL: RedisURL, serverURL: RedisURL,
                eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.backend = backend
        self.acl = acl
        self.serverURL = serverURL
        self.slot = RedisConnectionSlot(url: balancerURL, eventLoopGroup: eventLoopGroup, logger: logger)
        self.logger = logger
    }

    /// The backend's instances; each one's user is made again if Redis no longer has it.
    /// A Redis that does not answer is logged, not thrown: listing is the backend's.
    public func instances() async throws -> [DriverInstance] {
        let listed = try await backend.instances()
        do {
            try await restoreUsers(of: listed.filter { if case .exited = $0.status { return false } else { return true } }.map(\.id))
        } catch {
            logger.warning("could not check the servers' Redis users", metadata: ["error": "\(error)"])
        }
        return listed
    }

    /// Makes the server's user, then launches it with `REDIS_URL` naming that user.
    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        let user = RedisServerUser(id: request.id, acl: acl)
        do {
            try await slot.connection().send(user.setUserCommand)
        } catch {
            throw DriverError("cannot make the server's Redis user \(user.name) (the balancer's Redis user needs ACL SETUSER): \(error)",
                              instance: request.id)
        }
        var request = request
        request.environment["REDIS_URL"] = user.url(at: serverURL).connectionString
        return try await backend.launch(request)
    }

    /// The backend's wait.
    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        try await backend.waitUntilRunning(id, timeout: timeout)
    }

    /// Stops the server, then deletes its user (which also closes any connection still
    /// logged in as it).
    public func stop(_ id: InstanceID, grace: Duration) async throws {
        try await backend.stop(id, grace: grace)
        let user = RedisServerUser(id: id, acl: acl)
        do {
            try await slot.connection().send(["ACL", "DELUSER", user.name])
        } catch {
            logger.warning("could not delete a stopped server's Redis user", metadata: ["user": "\(user.name)", "error": "\(error)"])
        }
    }

    /// The backend's exits.
    public func exits() -> AsyncStream<InstanceExit> {
        backend.exits()
    }

    /// Makes again the users Redis does not have among those of `ids`.
    private func restoreUsers(of ids: [InstanceID]) async throws {
        guard !ids.isEmpty else { return }
        let redis = try await slot.connection()
        let known = Set((try await redis.send(["ACL", "USERS"])).array?.compactMap(\.string) ?? [])
        for id in ids {
            let user = RedisServerUser(id: id, acl: acl)
            guard !known.contains(user.name) else { continue }
            try await redis.send(user.setUserCommand)
            logger.notice("made a server's Redis user again (Redis had lost it)", metadata: ["user": "\(user.name)"])
        }
    }
}
