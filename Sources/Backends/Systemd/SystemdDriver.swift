#if canImport(Glibc)
import Glibc
#endif
import Logging
import WSScaleCore

/// The systemd backend: each server is an instance of a template unit,
/// `wsscale-server@<pool>:<id>.service`, started and stopped through systemd's D-Bus Manager
/// API (`org.freedesktop.systemd1`) with sd-bus.
///
/// - Launch: writes `<environmentDirectory>/<pool>:<id>.env` (0600; `SERVER_ID`, `SERVER_HOST`,
///   a free loopback `SERVER_PORT`, the request's environment), then `StartUnit(unit, "replace")`.
///   The template is `Type=notify`, so the start job ends (`JobRemoved` … `done`) once the
///   server sent `READY=1`; `waitUntilRunning` then also asks `GET /health`. A failed start job
///   is reported with the unit's `Result` and cleaned up (`ResetFailedUnit`, file removed).
/// - Stop: `StopUnit` (SIGTERM), up to `grace` for its job, then `KillUnit(unit, "all", SIGKILL)`,
///   then `ResetFailedUnit` and the file removed. The unit's `TimeoutStopSec` is only a backstop.
/// - Exits: from signals, never polled. The driver subscribes (`Subscribe`) and matches
///   `PropertiesChanged` on unit objects; a pool unit turning `failed` or `inactive` that the
///   driver did not stop is reported once (`ExecMainStatus`, `Result`) and reset.
/// - Adoption: `ListUnitsByPatterns` over the pool's units; each one's port is read back from its
///   environment file. Failed units found then are reported once and reset.
public actor SystemdDriver: InstanceDriver {
    /// `systemd`.
    public nonisolated let name = "systemd"
    /// Template, pool, environment folder and bus.
    public nonisolated let configuration: SystemdDriverConfiguration

    private let names: SystemdUnitName
    private let directory: SystemdEnvironmentDirectory
    private let probe: HTTPHealthProbe
    private let logger: Logger
    private let exitStream: AsyncStream<InstanceExit>
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation
    private var manager: SystemdManager?
    private var preparation: Task<SystemdManager, any Error>?
    private var signalReader: Task<Void, Never>?
    private var tracked: [InstanceID: TrackedUnit] = [:]
    private var launching: Set<InstanceID> = []
    private var startJobs: [InstanceID: SystemdJob] = [:]
    private var stopping: Set<InstanceID> = []

    private struct TrackedUnit {
        var endpoint: Endpoint?
        var status: DriverInstanceStatus
    }

    /// The `ActiveState`s `instances()` lists (everything but `inactive`).
    static let listedStates = ["active", "activating", "deactivating", "failed", "reloading"]

    /// Creates a driver. It connects to systemd and adopts the pool's units on first use.
    /// - Parameters:
    ///   - configuration: template, pool, environment folder and bus.
    ///   - probe: how `/health` is asked.
    ///   - logger: where it logs.
    /// - Throws: `ConfigurationError` naming a bad setting.
    public init(configuration: SystemdDriverConfiguration, probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.names = configuration.unitNames
        self.directory = SystemdEnvironmentDirectory(path: configuration.environmentDirectory, names: configuration.unitNames)
        self.probe = probe
        self.logger = logger
        (exitStream, exitContinuation) = AsyncStream.makeStream(of: InstanceExit.self)
    }

    deinit {
        signalReader?.cancel()
        manager?.bus.close()
        exitContinuation.finish()
    }

    /// The pool's units that have not ended: launched or adopted, not stopped, not reported.
    public func instances() async throws -> [DriverInstance] {
        _ = try await prepare()
        return tracked.sorted { $0.key < $1.key }
            .map { DriverInstance(id: $0.key, status: $0.value.status, endpoint: $0.value.endpoint) }
    }

    /// Writes the instance's environment file and queues its start job.
    /// - Throws: `DriverError` for an invalid or taken id, a bad environment variable, no free
    ///   port, an unwritable file, or systemd refusing `StartUnit` (no such template, not allowed).
    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        let manager = try await prepare()
        let id = request.id
        guard SystemdUnitName.isSafeName(id) else {
            throw DriverError("instance id must be letters, digits, '.', '_' or '-'", instance: id)
        }
        guard tracked[id] == nil, !stopping.contains(id) else {
            throw DriverError("an instance with this id already runs", instance: id)
        }
        let usedPorts = Set(tracked.values.compactMap { $0.endpoint?.port })
        guard let port = request.port ?? LoopbackPort.free(excluding: usedPorts) else {
            throw DriverError("no free port on 127.0.0.1", instance: id)
        }
        let endpoint = Endpoint(host: configuration.serverHost, port: port)
        var environment = configuration.environment
        environment.merge(request.environment) { $1 }
        environment["SERVER_ID"] = id
        environment["SERVER_HOST"] = configuration.serverHost
        environment["SERVER_PORT"] = String(port)
        do {
            try directory.write(SystemdEnvironmentFile(environment), for: id)
        } catch let invalid as SystemdEnvironmentFile.InvalidVariable {
            throw DriverError("\(invalid)", instance: id)
        }
        let unit = names.unit(id)
        tracked[id] = TrackedUnit(endpoint: endpoint, status: .starting)
        launching.insert(id)
        do {
            startJobs[id] = try await manager.startUnit(unit)
        } catch {
            tracked[id] = nil
            launching.remove(id)
            try? await manager.resetFailedUnit(unit)
            directory.remove(id)
            throw DriverError("StartUnit \(unit) failed: \(error)", instance: id)
        }
        logger.info("started unit", metadata: ["instance": "\(id)", "unit": "\(unit)", "endpoint": "\(endpoint)"])
        return DriverInstance(id: id, status: .starting, endpoint: endpoint)
    }

    /// Waits for the unit's start job (`done` once the server sent `READY=1`), then for
    /// `GET /health` to answer 200 or 503.
    /// - Throws: `DriverError` when the instance is unknown, its start job fails (with the
    ///   unit's `Result`; the unit is reset and its file removed), it exits, or `timeout` passes.
    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        let manager = try await prepare()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        let unit = names.unit(id)
        guard let endpoint = tracked[id]?.endpoint else {
            throw DriverError(tracked[id] == nil ? "no such instance" : "its environment file gives no endpoint", instance: id)
        }
        if let job = startJobs[id] {
            let result = await job.result(within: timeout)
            if startJobs[id] === job {
                startJobs[id] = nil
                launching.remove(id)
            }
            guard let result else {
                throw DriverError("the start job of \(unit) did not finish within \(timeout) (see journalctl -u \(unit))", instance: id)
            }
            if result != "done" {
                tracked[id] = nil
                let end = await manager.serviceEnd(unit)
                try? await manager.resetFailedUnit(unit)
                directory.remove(id)
                throw DriverError("\(unit) did not start: job \(result), \(end.summary) (see journalctl -u \(unit))", instance: id)
            }
        }
        let up = await probe.waitUntilUp(endpoint, timeout: clock.now.duration(to: deadline)) { [weak self] in
            await self?.isTracked(id) ?? false
        }
        guard up else {
            if tracked[id] == nil {
                throw DriverError("\(unit) exited before answering GET /health (see journalctl -u \(unit))", instance: id)
            }
            throw DriverError("did not answer GET /health on \(endpoint) within \(timeout) (see journalctl -u \(unit))", instance: id)
        }
        tracked[id]?.status = .running
        return endpoint
    }

    /// `StopUnit` (SIGTERM), up to `grace`, then `KillUnit` with SIGKILL; then `ResetFailedUnit`
    /// and the environment file removed. Stopping an unknown or ended instance succeeds.
    /// - Throws: `DriverError` when systemd refuses, or the unit survives SIGKILL for `killTimeout`.
    public func stop(_ id: InstanceID, grace: Duration) async throws {
        let manager = try await prepare()
        let unit = names.unit(id)
        stopping.insert(id)
        defer { stopping.remove(id) }
        startJobs[id] = nil
        launching.remove(id)
        do {
            if tracked[id] == nil {
                let loaded = try await manager.isLoaded(unit)
                if !loaded {
                    directory.remove(id)
                    return
                }
            }
            let job = try await manager.stopUnit(unit)
            var forced = false
            var result = await job.result(within: grace)
            if result == nil {
                forced = true
                do {
                    try await manager.killUnit(unit, signal: SIGKILL)
                } catch let error as SystemdBusError {
                    // Its processes may have ended between the grace and the kill; the job says.
                    logger.debug("KillUnit refused", metadata: ["unit": "\(unit)", "error": "\(error)"])
                }
                result = await job.result(within: configuration.killTimeout)
                guard result != nil else {
                    throw DriverError("\(unit) still runs \(configuration.killTimeout) after SIGKILL", instance: id)
                }
            }
            try await manager.resetFailedUnit(unit)
            tracked[id] = nil
            directory.remove(id)
            logger.info("stopped unit", metadata: ["instance": "\(id)", "unit": "\(unit)", "job": "\(result ?? "")",
                                                   "forced": "\(forced)"])
        } catch let error as SystemdBusError where error.name == SystemdManager.noSuchUnit {
            tracked[id] = nil
            directory.remove(id)
        } catch let error as SystemdBusError {
            throw DriverError("stopping \(unit): \(error)", instance: id)
        }
    }

    /// Instances that ended without `stop`, each once. For one consumer.
    public nonisolated func exits() -> AsyncStream<InstanceExit> {
        exitStream
    }

    // MARK: - Connection, adoption and signals

    /// Connects and adopts once; concurrent callers wait for the same work, and a failure is
    /// retried by the next call.
    private func prepare() async throws -> SystemdManager {
        if let manager { return manager }
        if preparation == nil {
            preparation = Task { try await self.connectAndAdopt() }
        }
        do {
            return try await preparation!.value
        } catch {
            preparation = nil
            throw DriverError("cannot use systemd's D-Bus API at \(configuration.busAddress ?? "the system bus"): \(error)")
        }
    }

    private func connectAndAdopt() async throws -> SystemdManager {
        let bus = try await SystemdBus.connect(address: configuration.busAddress, callTimeout: configuration.callTimeout)
        let manager = SystemdManager(bus: bus)
        signalReader = Task { [weak self] in
            for await change in bus.unitStateChanges {
                await self?.unitChanged(change)
            }
        }
        do {
            try await adopt(manager)
        } catch {
            signalReader?.cancel()
            bus.close()
            throw error
        }
        self.manager = manager
        return manager
    }

    private func adopt(_ manager: SystemdManager) async throws {
        let units = try await manager.listUnits(states: Self.listedStates, patterns: [names.pattern])
        var candidates: [(id: InstanceID, endpoint: Endpoint?, state: String)] = []
        for unit in units {
            guard let id = names.id(ofUnit: unit.name), tracked[id] == nil else { continue }
            if unit.activeState == "failed" {
                await reportExit(id, unit: unit.name, manager: manager, found: "at adoption")
                continue
            }
            candidates.append((id, directory.endpoint(id), unit.activeState))
        }
        // Ask every running unit's /health at once, so hung servers do not add up their timeouts.
        let probe = self.probe
        let timeout = configuration.adoptionProbeTimeout
        let answers = await withTaskGroup(of: (InstanceID, Int?).self) { group in
            for candidate in candidates where candidate.state == "active" {
                guard let endpoint = candidate.endpoint else { continue }
                group.addTask { (candidate.id, await probe.get(endpoint, timeout: timeout)) }
            }
            var answers: [InstanceID: Int] = [:]
            for await (id, status) in group { answers[id] = status }
            return answers
        }
        for candidate in candidates {
            let status: DriverInstanceStatus = HTTPHealthProbe.isUp(answers[candidate.id]) ? .running : .starting
            tracked[candidate.id] = TrackedUnit(endpoint: candidate.endpoint, status: status)
            logger.info("adopted unit from an earlier run",
                        metadata: ["instance": "\(candidate.id)", "unit": "\(names.unit(candidate.id))",
                                   "state": "\(candidate.state)", "endpoint": "\(candidate.endpoint.map { "\($0)" } ?? "unknown")"])
        }
    }

    /// A unit's `ActiveState` changed: a pool unit that ended without `stop` (and not while
    /// its start job runs: `waitUntilRunning` reports that) is an exit.
    private func unitChanged(_ change: SystemdUnitStateChange) async {
        guard change.activeState == "failed" || change.activeState == "inactive",
              let id = names.id(ofUnit: change.unit), tracked[id] != nil,
              !stopping.contains(id), !launching.contains(id), let manager else { return }
        await reportExit(id, unit: change.unit, manager: manager, found: change.activeState)
    }

    private func reportExit(_ id: InstanceID, unit: String, manager: SystemdManager, found: String) async {
        tracked[id] = nil
        let end = await manager.serviceEnd(unit)
        logger.warning("unit ended on its own", metadata: ["instance": "\(id)", "unit": "\(unit)", "state": "\(found)",
                                                           "result": "\(end.summary)"])
        directory.remove(id)
        exitContinuation.yield(InstanceExit(id: id, exitCode: end.status, reason: end.summary))
        do {
            try await manager.resetFailedUnit(unit)
        } catch {
            logger.warning("ResetFailedUnit failed", metadata: ["unit": "\(unit)", "error": "\(error)"])
        }
    }

    private func isTracked(_ id: InstanceID) -> Bool {
        tracked[id] != nil
    }
}

extension SystemdManager.ServiceEnd {
    /// `Result=signal, ExecMainStatus=9`, for errors and exit reports.
    var summary: String {
        "Result=\(result ?? "unknown"), ExecMainStatus=\(status.map(String.init) ?? "unknown")"
    }
}
