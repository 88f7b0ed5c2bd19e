#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import WSScaleCore

/// The embedded default backend: each server is a child process on a free loopback port.
///
/// - Launch: `posix_spawn` of the configured program (by default `wsscale server`) with
///   `SERVER_ID`, `SERVER_HOST`, `SERVER_PORT` and the request's environment, stdout and
///   stderr appended to `<stateDirectory>/<pool>/<id>.log`, and a pid file
///   `<stateDirectory>/<pool>/<id>.pid` (pid, port, process start time).
/// - Exits: every `exitPollInterval` the driver reaps its children with
///   `waitpid(pid, WNOHANG)` (no zombies) and checks adopted ones with `kill(pid, 0)`;
///   an instance that ended without `stop` is reported once on `exits()`.
/// - No orphans: children run in their own process group, so a Ctrl-C on the terminal
///   reaches only the balancer, which stops them (`stopAll`). If the balancer itself dies,
///   the servers keep their users; the next run with the same state directory and pool
///   finds them through their pid files, checks that each pid is alive and is the same
///   process (start time) and adopts it; stale pid files are removed. Nothing is left
///   running that no driver knows about.
public actor ProcessDriver: InstanceDriver {
    /// `process`.
    public nonisolated let name = "process"
    /// What it launches and where it keeps state.
    public nonisolated let configuration: Configuration

    private let directory: ProcessPoolDirectory
    private let probe: HTTPHealthProbe
    private let logger: Logger
    private let exitStream: AsyncStream<InstanceExit>
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation
    private var tracked: [InstanceID: TrackedInstance] = [:]
    private var stopping: Set<InstanceID> = []
    private var preparation: Task<Void, Never>?
    private var monitor: Task<Void, Never>?

    private struct TrackedInstance {
        var process: LocalProcess
        var endpoint: Endpoint
        var status: DriverInstanceStatus
    }

    /// Creates a driver. It looks for instances of earlier runs on first use.
    /// - Parameters:
    ///   - configuration: program, state directory and pool.
    ///   - probe: how `/health` is asked.
    ///   - logger: where it logs.
    /// - Throws: `DriverError` naming a bad setting.
    public init(configuration: Configuration, probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.directory = ProcessPoolDirectory(stateDirectory: configuration.stateDirectory, pool: configuration.pool)
        self.probe = probe
        self.logger = logger
        (exitStream, exitContinuation) = AsyncStream.makeStream(of: InstanceExit.self)
    }

    deinit {
        monitor?.cancel()
        exitContinuation.finish()
    }

    /// The pool's instances: the ones this driver launched or adopted and that have not ended.
    public func instances() async throws -> [DriverInstance] {
        try await prepare()
        reapEnded()
        return tracked.sorted { $0.key < $1.key }
            .map { DriverInstance(id: $0.key, status: $0.value.status, endpoint: $0.value.endpoint) }
    }

    /// Spawns one instance on the requested port or a free loopback port and writes its pid file.
    /// - Throws: `DriverError` when the id is invalid or taken, no port is free, or the
    ///   program cannot be started.
    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        try await prepare()
        let id = request.id
        guard Self.isSafeName(id) else {
            throw DriverError("instance id must be letters, digits, '.', '_' or '-'", instance: id)
        }
        guard tracked[id] == nil else { throw DriverError("an instance with this id already runs", instance: id) }
        let usedPorts = Set(tracked.values.map(\.endpoint.port))
        guard let port = request.port ?? LoopbackPort.free(excluding: usedPorts) else {
            throw DriverError("no free port on \(configuration.host)", instance: id)
        }
        let endpoint = Endpoint(host: configuration.host, port: port)
        var environment = configuration.inheritsEnvironment ? ProcessInfo.processInfo.environment : [:]
        environment.merge(configuration.environment) { $1 }
        environment.merge(request.environment) { $1 }
        environment["SERVER_ID"] = id
        environment["WSSCALE_POOL"] = configuration.pool // how adoption recognizes it (ProcessAdoptionCheck)
        environment["SERVER_HOST"] = configuration.host
        environment["SERVER_PORT"] = String(port)

        let process: LocalProcess
        do {
            process = try LocalProcess.spawn(executable: configuration.executable, arguments: configuration.arguments,
                                             environment: environment, outputPath: directory.logPath(id))
        } catch {
            throw DriverError("\(error)", instance: id)
        }
        let record = ProcessPidFile(id: id, pid: process.pid, endpoint: endpoint, startTime: process.startTime)
        do {
            try directory.write(record)
        } catch {
            _ = await process.terminate(grace: .zero)
            throw DriverError("cannot write pid file \(directory.pidFilePath(id)): \(error)", instance: id)
        }
        tracked[id] = TrackedInstance(process: process, endpoint: endpoint, status: .starting)
        logger.info("launched instance", metadata: ["instance": "\(id)", "pid": "\(process.pid)", "endpoint": "\(endpoint)"])
        return DriverInstance(id: id, status: .starting, endpoint: endpoint)
    }

    /// Polls `GET /health` until the instance answers 200 or 503.
    /// - Throws: `DriverError` when the instance is unknown, exits first, or `timeout` passes.
    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        try await prepare()
        guard let instance = tracked[id] else { throw DriverError("no such instance", instance: id) }
        let process = instance.process
        let up = await probe.waitUntilUp(instance.endpoint, timeout: timeout) { [weak self] in
            guard let self else { return false }
            return await self.isTracked(id, process: process)
        }
        guard up else {
            if !isTracked(id, process: process) {
                throw DriverError("exited before answering GET /health (see \(directory.logPath(id)))"
                                  + LogTail.read(path: directory.logPath(id)).shownAfterColon, instance: id)
            }
            throw DriverError("did not answer GET /health on \(instance.endpoint) within \(timeout)", instance: id)
        }
        if tracked[id]?.process == process { tracked[id]?.status = .running }
        return instance.endpoint
    }

    /// SIGTERM, up to `grace`, SIGKILL; reaps the process and removes its pid file and log.
    /// Stopping an unknown or ended instance succeeds.
    /// - Throws: `DriverError` when the process survived SIGKILL.
    public func stop(_ id: InstanceID, grace: Duration) async throws {
        try await prepare()
        guard let instance = tracked[id] else {
            directory.remove(id)
            return
        }
        stopping.insert(id)
        defer { stopping.remove(id) }
        let status = await instance.process.terminate(grace: grace)
        guard let status else {
            throw DriverError("pid \(instance.process.pid) survived SIGKILL", instance: id)
        }
        // Whatever it started and left behind (an app it had no time to stop) goes with it.
        kill(-instance.process.pid, SIGKILL)
        if tracked[id]?.process == instance.process { tracked[id] = nil }
        directory.remove(id, includingLog: true)
        logger.info("stopped instance", metadata: ["instance": "\(id)", "status": "\(status)"])
    }

    /// Stops every instance of the pool (what `wsscale up` does on Ctrl-C).
    /// - Parameter grace: time each instance gets between SIGTERM and SIGKILL.
    public func stopAll(grace: Duration) async throws {
        try await prepare()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in tracked.keys {
                group.addTask { try await self.stop(id, grace: grace) }
            }
            try await group.waitForAll()
        }
    }

    /// Instances that ended without `stop`, each once. For one consumer.
    public nonisolated func exits() -> AsyncStream<InstanceExit> {
        exitStream
    }

    // MARK: - Adoption and reaping

    /// Runs once: creates the pool folder, adopts the instances of earlier runs and starts
    /// the exit monitor. Concurrent callers wait for the same work.
    private func prepare() async throws {
        if preparation == nil {
            try directory.create()
            preparation = Task { await self.adoptEarlierInstances() }
        }
        await preparation?.value
        if monitor == nil {
            let interval = configuration.exitPollInterval
            monitor = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.reapEnded()
                }
            }
        }
    }

    private func adoptEarlierInstances() async {
        var candidates: [ProcessPidFile] = []
        let program = ProcessAdoptionCheck.Program(launching: configuration)
        for id in directory.instanceIDs() where tracked[id] == nil {
            guard let record = directory.read(id) else {
                logger.warning("removing unreadable pid file", metadata: ["instance": "\(id)"])
                directory.remove(id)
                continue
            }
            let process = LocalProcess(pid: record.pid)
            guard process.isAlive else {
                logger.info("removing stale pid file", metadata: ["instance": "\(id)", "pid": "\(record.pid)"])
                directory.remove(id)
                continue
            }
            if let problem = ProcessAdoptionCheck.problem(record: record, pool: configuration.pool, program: program,
                                                          process: ProcessAdoptionCheck.Observation(pid: record.pid)) {
                // Never stopped: it may be anyone's process. Only the claim goes.
                logger.warning("not adopting the process a pid file names; removing the file",
                               metadata: ["instance": "\(id)", "pid": "\(record.pid)", "reason": "\(problem)"])
                directory.remove(id)
                continue
            }
            candidates.append(record)
        }
        // Ask every survivor's /health at once, so hung servers do not add up their timeouts.
        let probe = self.probe
        let timeout = configuration.adoptionProbeTimeout
        let answers = await withTaskGroup(of: (InstanceID, Int?).self) { group in
            for record in candidates {
                group.addTask { (record.id, await probe.get(record.endpoint, timeout: timeout)) }
            }
            var answers: [InstanceID: Int] = [:]
            for await (id, status) in group { answers[id] = status }
            return answers
        }
        for record in candidates {
            let status = answers[record.id]
            let state: DriverInstanceStatus = HTTPHealthProbe.isUp(status) ? .running : .starting
            tracked[record.id] = TrackedInstance(process: LocalProcess(pid: record.pid), endpoint: record.endpoint, status: state)
            logger.info("adopted instance from an earlier run",
                        metadata: ["instance": "\(record.id)", "pid": "\(record.pid)",
                                   "health": "\(status.map(String.init) ?? "no answer")"])
        }
    }

    private func reapEnded() {
        for (id, instance) in tracked where !stopping.contains(id) {
            guard let status = instance.process.exitStatusIfEnded() else { continue }
            // What it started (the app behind its front door) ends with it: its group, which
            // the server led, is killed.
            kill(-instance.process.pid, SIGKILL)
            tracked[id] = nil
            directory.remove(id)
            logger.warning("instance ended on its own", metadata: ["instance": "\(id)", "status": "\(status)"])
            exitContinuation.yield(InstanceExit(id: id, exitCode: status.exitCode, reason: status.description))
        }
    }

    private func isTracked(_ id: InstanceID, process: LocalProcess) -> Bool {
        reapEnded()
        return tracked[id]?.process == process
    }
}
