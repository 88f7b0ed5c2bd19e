import Logging
import NIOCore
import WSScaleAPI

/// The simulated users and their WebSocket connections: carries out what each user's
/// ``UserSessionStateMachine`` asks for (connect through the limiter, close, wait and retry)
/// and feeds the outcomes back to it.
public actor UserSessions {
    /// What a batch request did.
    public struct BatchOutcome: Sendable, Codable, Equatable {
        /// Users the request changed (started connecting, or started disconnecting).
        public var accepted: Int
        /// Users the request left alone (already connected or connecting; already disconnected
        /// or unknown).
        public var unchanged: Int
        /// Creates an outcome.
        public init(accepted: Int, unchanged: Int) {
            self.accepted = accepted
            self.unchanged = unchanged
        }
    }

    /// How a connection attempt turned out.
    private enum AttemptOutcome {
        case opened(WebSocketConnection)
        case failed(ConnectionEnd)
    }

    private struct User {
        var machine: UserSessionStateMachine
        var connection: (epoch: UInt64, connection: WebSocketConnection)?
        var retry: Task<Void, Never>?
    }

    /// A connect request would take the simulator past its bound of users.
    public struct TooManyUsers: Error, Sendable, Equatable, CustomStringConvertible {
        /// The bound (`CLIENT_MAX_USERS`).
        public let limit: Int
        /// Users the simulator holds that are connected or trying to be.
        public let active: Int
        /// New users the request asked for.
        public let requested: Int
        public var description: String {
            "the client simulator holds at most \(limit) users; \(active) are connected or trying to be, and this request adds \(requested) new ones: disconnect some first"
        }
    }

    /// Users held at most (`CLIENT_MAX_USERS`): disconnected users are forgotten to make room.
    public let maxUsers: Int
    private var nextEpochBase: UInt64 = 0
    private let connector: WebSocketConnector
    private let backoff: BackoffPolicy
    private let limiter: ConnectLimiter
    private let logger: Logger
    private var random: any RandomNumberGenerator
    private var users: [String: User] = [:]
    private var pendingTasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTaskID: UInt64 = 0
    private var isShutDown = false

    /// Creates an empty set of users.
    /// - Parameters:
    ///   - connector: opens the users' connections.
    ///   - backoff: how users retry.
    ///   - connectConcurrency: connection attempts in flight at once.
    ///   - random: the jitter's random source (inject a seeded generator in tests).
    ///   - logger: where session changes are logged.
    ///   - maxUsers: users held at most; disconnected users are forgotten to make room.
    public init(connector: WebSocketConnector, backoff: BackoffPolicy, connectConcurrency: Int = 64,
                maxUsers: Int = 100_000,
                random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(), logger: Logger) {
        self.maxUsers = maxUsers
        self.connector = connector
        self.backoff = backoff
        self.limiter = ConnectLimiter(permits: connectConcurrency)
        self.random = random
        self.logger = logger
    }

    /// Connects users (concurrently, bounded by the connect concurrency). Users already
    /// connected, connecting or reconnecting are left alone. Returns at once; connections
    /// open in the background (see ``status()``).
    ///
    /// At most ``maxUsers`` are held: to make room for new ones, disconnected users are
    /// forgotten (their status goes); when that is not enough, nothing is done.
    /// - Parameter userIDs: valid user ids (see ``UserID``).
    /// - Throws: ``TooManyUsers`` when the new users do not fit.
    public func connect(users userIDs: [String]) throws -> BatchOutcome {
        var outcome = BatchOutcome(accepted: 0, unchanged: 0)
        guard !isShutDown else { return BatchOutcome(accepted: 0, unchanged: userIDs.count) }
        try makeRoom(for: userIDs.reduce(0) { $0 + (users[$1] == nil ? 1 : 0) })
        for userID in userIDs {
            var user = users[userID] ?? newUser()
            let action = user.machine.connect()
            users[userID] = user
            if action == .none { outcome.unchanged += 1 } else { outcome.accepted += 1 }
            perform(action, for: userID)
        }
        return outcome
    }

    private func newUser() -> User {
        // Each user's epochs start far from every other's: one forgotten and made again
        // cannot take a late event about its old connection for its new one.
        nextEpochBase &+= 1 << 32
        return User(machine: UserSessionStateMachine(backoff: backoff, firstEpoch: nextEpochBase))
    }

    /// Forgets users at rest until `newUsers` more fit under ``maxUsers``.
    private func makeRoom(for newUsers: Int) throws {
        guard users.count + newUsers > maxUsers else { return }
        let atRest = users.filter { $0.value.machine.isAtRest && $0.value.connection == nil && $0.value.retry == nil }
        let active = users.count - atRest.count
        guard active + newUsers <= maxUsers else {
            throw TooManyUsers(limit: maxUsers, active: active, requested: newUsers)
        }
        for userID in atRest.keys.prefix(users.count + newUsers - maxUsers) { users[userID] = nil }
        logger.info("forgot disconnected users to make room", metadata: ["users": "\(users.count)", "limit": "\(maxUsers)"])
    }

    /// Disconnects users intentionally (close code 1000); they do not reconnect. Unknown and
    /// already disconnected users are left alone. Returns at once.
    /// - Parameter userIDs: the user ids.
    public func disconnect(users userIDs: [String]) -> BatchOutcome {
        var outcome = BatchOutcome(accepted: 0, unchanged: 0)
        for userID in userIDs {
            guard var user = users[userID], user.machine.state != .disconnected else {
                outcome.unchanged += 1
                continue
            }
            outcome.accepted += 1
            let action = user.machine.disconnect()
            user.retry?.cancel()
            user.retry = nil
            users[userID] = user
            perform(action, for: userID)
        }
        return outcome
    }

    /// Every user's state, host, reconnect count and last close, with totals.
    public func status() -> ClientStatus {
        ClientStatus(users: users.map { UserStatus(userId: $0.key, machine: $0.value.machine) })
    }

    /// One user's status, or `nil` for a user never asked to connect.
    public func status(of userID: String) -> UserStatus? {
        users[userID].map { UserStatus(userId: userID, machine: $0.machine) }
    }

    /// Disconnects every user, abandons pending attempts and retries, and waits until every
    /// connection has closed. Later connect requests are ignored.
    public func shutdown() async {
        isShutDown = true
        await limiter.close()
        _ = disconnect(users: Array(users.keys))
        while let (id, task) = pendingTasks.first {
            await task.value
            pendingTasks[id] = nil
        }
    }

    // MARK: Carrying out actions

    private func perform(_ action: UserSessionStateMachine.Action, for userID: String) {
        switch action {
        case .none:
            break
        case .openConnection(let epoch):
            track { await self.open(userID: userID, epoch: epoch) }
        case .closeConnection(let epoch):
            guard let open = users[userID]?.connection, open.epoch == epoch else { return }
            users[userID]?.connection = nil
            track { await open.connection.close() }
        case .scheduleRetry(let epoch, let delay):
            logger.debug("user will reconnect", metadata: ["user": "\(userID)", "delay": "\(delay)"])
            users[userID]?.retry = Task {
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled else { return }
                self.retryDue(userID: userID, epoch: epoch)
            }
        }
    }

    /// Runs work in a task that ``shutdown()`` waits for.
    private func track(_ work: @escaping @Sendable () async -> Void) {
        let id = nextTaskID
        nextTaskID += 1
        pendingTasks[id] = Task {
            await work()
            self.finished(taskID: id)
        }
    }

    private func finished(taskID: UInt64) {
        pendingTasks[taskID] = nil
    }

    private func open(userID: String, epoch: UInt64) async {
        guard await limiter.acquire() else {
            connectFinished(userID: userID, epoch: epoch, .failed(.connectFailed("the client simulator is shutting down")))
            return
        }
        guard isAttemptCurrent(userID: userID, epoch: epoch) else {
            await limiter.release()
            return
        }
        let result: AttemptOutcome
        do {
            result = .opened(try await connector.connect(userID: userID))
        } catch let failure as WebSocketConnector.Failure {
            result = .failed(failure.end)
        } catch {
            result = .failed(.connectFailed("\(error)"))
        }
        await limiter.release()
        connectFinished(userID: userID, epoch: epoch, result)
    }

    private func isAttemptCurrent(userID: String, epoch: UInt64) -> Bool {
        users[userID]?.machine.isAwaitingConnection(epoch: epoch) ?? false
    }

    private func connectFinished(userID: String, epoch: UInt64, _ result: AttemptOutcome) {
        guard var user = users[userID] else { return }
        switch result {
        case .opened(let connection):
            let action = user.machine.connectionOpened(epoch: epoch, host: connection.host)
            if action == .none {
                user.connection = (epoch, connection)
                connection.ended.whenComplete { result in
                    let end = (try? result.get()) ?? .abnormal
                    Task { await self.connectionEnded(userID: userID, epoch: epoch, end) }
                }
                logger.debug("user connected", metadata: ["user": "\(userID)", "host": "\(connection.host ?? "-")"])
            } else {
                track { await connection.close() }
            }
            users[userID] = user
        case .failed(let end):
            logger.debug("user connect failed", metadata: ["user": "\(userID)", "reason": "\(end.detail)"])
            let action = user.machine.connectionEnded(epoch: epoch, end, using: &random)
            users[userID] = user
            perform(action, for: userID)
        }
    }

    private func connectionEnded(userID: String, epoch: UInt64, _ end: ConnectionEnd) {
        guard var user = users[userID] else { return }
        if user.connection?.epoch == epoch { user.connection = nil }
        let action = user.machine.connectionEnded(epoch: epoch, end, using: &random)
        users[userID] = user
        if action != .none {
            logger.debug("user lost its connection", metadata: ["user": "\(userID)", "end": "\(end)"])
        }
        perform(action, for: userID)
    }

    private func retryDue(userID: String, epoch: UInt64) {
        guard var user = users[userID] else { return }
        user.retry = nil
        let action = user.machine.retryDue(epoch: epoch)
        users[userID] = user
        perform(action, for: userID)
    }
}
