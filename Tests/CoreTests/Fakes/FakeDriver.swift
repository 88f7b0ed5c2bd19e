import WSScaleCore

/// An in-memory `InstanceDriver` whose launches can be told to succeed, fail or hang.
actor FakeDriver: InstanceDriver {
    /// What the next launch does.
    enum LaunchBehavior: Sendable {
        /// Launches; healthy at once, or when the test opens the health gate it closed.
        case succeed
        /// `launch` throws.
        case failLaunch
        /// `launch` succeeds, `waitUntilRunning` throws.
        case failHealth
        /// `launch` never returns (until cancelled).
        case hangLaunch
        /// `waitUntilRunning` never returns (until cancelled), whatever its timeout.
        case hangHealth
    }

    nonisolated let name = "fake"
    private let calls: CallLog
    private var behaviors: [LaunchBehavior] = []
    private var behaviorByID: [InstanceID: LaunchBehavior] = [:]
    private var table: [InstanceID: DriverInstance] = [:]
    private var nextPort = 20_000
    private var healthHeld = false
    private var heldHealthChecks: [CheckedContinuation<Void, Never>] = []
    private let exitStream: AsyncStream<InstanceExit>
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation

    init(calls: CallLog) {
        self.calls = calls
        (exitStream, exitContinuation) = AsyncStream.makeStream()
    }

    /// Behaviours of the next launches, in order; launches beyond them succeed.
    func script(_ behaviors: [LaunchBehavior]) { self.behaviors = behaviors }

    /// Makes the health checks of succeeding launches wait until `releaseHealth()`.
    func holdHealth() { healthHeld = true }

    /// Lets every held health check (and later ones) pass.
    func releaseHealth() {
        healthHeld = false
        heldHealthChecks.forEach { $0.resume() }
        heldHealthChecks.removeAll()
    }

    /// Puts an instance in the pool as if an earlier run had launched it.
    func adopt(_ id: InstanceID, port: Int, status: DriverInstanceStatus = .running) {
        table[id] = DriverInstance(id: id, status: status, endpoint: Endpoint(host: "127.0.0.1", port: port))
    }

    /// Makes an instance exit on its own and reports it.
    func crash(_ id: InstanceID, code: Int32 = 137) {
        table[id] = nil
        exitContinuation.yield(InstanceExit(id: id, exitCode: code, reason: "killed"))
    }

    /// Ids of the instances that exist now.
    var ids: Set<InstanceID> { Set(table.keys) }

    func instances() async throws -> [DriverInstance] { Array(table.values) }

    func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        calls.append("driver.launch \(request.id)")
        let behavior = behaviors.isEmpty ? .succeed : behaviors.removeFirst()
        behaviorByID[request.id] = behavior
        switch behavior {
        case .failLaunch: throw DriverError("refused to launch", instance: request.id)
        case .hangLaunch: try await hangUntilCancelled()
        default: break
        }
        let instance = DriverInstance(id: request.id, status: .starting,
                                      endpoint: Endpoint(host: "127.0.0.1", port: nextPort))
        nextPort += 1
        table[request.id] = instance
        return instance
    }

    func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        calls.append("driver.wait \(id)")
        switch behaviorByID[id] {
        case .failHealth: throw DriverError("health check failed", instance: id)
        case .hangHealth: try await hangUntilCancelled()
        default:
            if healthHeld { await withCheckedContinuation { heldHealthChecks.append($0) } }
        }
        guard var instance = table[id], let endpoint = instance.endpoint else {
            throw DriverError("no such instance", instance: id)
        }
        instance.status = .running
        table[id] = instance
        return endpoint
    }

    func stop(_ id: InstanceID, grace: Duration) async throws {
        calls.append("driver.stop \(id)")
        table[id] = nil
    }

    nonisolated func exits() -> AsyncStream<InstanceExit> { exitStream }
}

/// Suspends until the task is cancelled, then throws `CancellationError`: a call that never
/// answers, without a timer of its own.
func hangUntilCancelled() async throws {
    let (never, continuation) = AsyncStream<Void>.makeStream()
    for await _ in never {}
    withExtendedLifetime(continuation) {}
    try Task.checkCancellation()
}
