import WSScaleAPI
import WSScaleCore
import WSScaleListeners
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The client simulator (`wsscale client`): simulated users that connect through the
/// proxy and reconnect with backoff, driven by an HTTP API (``ClientHTTPAPI``) or in
/// process through ``connect(users:)``, ``disconnect(users:)`` and ``status()``.
///
/// A `Service`: `run()` serves the HTTP API until graceful shutdown (or cancellation), then
/// disconnects every user (close code 1000) and returns once their connections are closed.
public final class ClientSimulator: Service, Sendable {
    /// The settings it runs with.
    public let configuration: ClientConfiguration
    /// The simulated users.
    public let sessions: UserSessions

    private let logger: Logger
    private let port = ListeningPort()

    /// Why a user id given to the Swift API was refused.
    public struct InvalidUserID: Error, Sendable, Equatable, CustomStringConvertible {
        /// The refused id.
        public let userID: String
        public var description: String {
            "\"\(userID)\" is not a valid user id: 1-\(IdentifierRule.userId.maxLength) characters of A-Z a-z 0-9 . _ @ -"
        }
    }

    /// Creates a client simulator.
    /// - Parameters:
    ///   - configuration: listen address, target, backoff and concurrency.
    ///   - random: the jitter's random source (inject a seeded generator in tests).
    ///   - group: the event loops the WebSocket connections and the HTTP API run on.
    ///   - logger: where the simulator logs.
    private let group: any EventLoopGroup

    public init(configuration: ClientConfiguration,
                random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        let connector = WebSocketConnector(target: configuration.target, timeout: configuration.connectTimeout,
                                           liveness: configuration.liveness,
                                           group: group, logger: logger)
        self.sessions = UserSessions(connector: connector, backoff: configuration.backoff,
                                     connectConcurrency: configuration.connectConcurrency,
                                     maxUsers: configuration.maxUsers, random: random, logger: logger)
    }

    /// Serves the HTTP API until graceful shutdown or cancellation, then disconnects every user.
    public func run() async throws {
        let listening = port
        let logger = self.logger
        let target = configuration.target
        let application = Application(
            router: ClientHTTPAPI.router(for: sessions, gate: AdminGate(token: configuration.adminToken)),
            server: .http1(within: configuration.httpLimits, listener: "client simulator", logger: logger),
            configuration: ApplicationConfiguration(address: .hostname(configuration.listenHost, port: configuration.port),
                                                    backlog: HTTPListenerLimits.backlog),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                logger.info("client simulator listening", metadata: ["port": "\(bound)", "target": "\(target)"])
                listening.listening(on: bound)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        do {
            try await application.run()
        } catch {
            listening.stopped(error)
            await sessions.shutdown()
            throw error
        }
        listening.stopped(CancellationError())
        await sessions.shutdown()
    }

    /// Waits until the HTTP API listens and returns its port (useful with port 0).
    /// - Throws: the error `run()` stopped with, if it stopped before listening.
    public func listeningPort() async throws -> Int {
        try await port.value()
    }

    /// Connects users concurrently (see ``UserSessions/connect(users:)``); returns at once.
    /// - Throws: ``InvalidUserID`` for an id outside `[A-Za-z0-9._@-]{1,128}`, and
    ///   ``UserSessions/TooManyUsers`` past `CLIENT_MAX_USERS` (nothing is started).
    @discardableResult
    public func connect(users userIDs: [String]) async throws -> UserSessions.BatchOutcome {
        if let invalid = userIDs.first(where: { !IdentifierRule.userId.isValid($0) }) { throw InvalidUserID(userID: invalid) }
        return try await sessions.connect(users: userIDs)
    }

    /// Disconnects users intentionally (close code 1000); they do not reconnect. Returns at once.
    @discardableResult
    public func disconnect(users userIDs: [String]) async -> UserSessions.BatchOutcome {
        await sessions.disconnect(users: userIDs)
    }

    /// Every user's state, host, reconnect count and last close, with totals.
    public func status() async -> ClientStatus {
        await sessions.status()
    }
}
