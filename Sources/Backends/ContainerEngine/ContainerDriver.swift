import Foundation
import Logging
import NIOConcurrencyHelpers
import WSScaleCore

/// The driver contract for one pool of `wsscale server` containers, written once for every
/// container engine: `DockerDriver` and `PodmanDriver` are this over their engine's API
/// (a `ContainerEngine`: paths, create body, listing shape, event words).
///
/// - Containers are named `<pool>-<instance>` and carry the labels `wsscale.pool`,
///   `wsscale.instance` and `wsscale.port`; `instances()` lists them by the pool label, so
///   a restarted balancer adopts what an earlier run launched, but only those named with
///   the pool's prefix and running the configured image.
/// - A container is reached on a port published on the configured host address
///   (127.0.0.1 by default, ephemeral host port) or, in a named network, at its address there.
/// - A container created but not started is removed before `launch` throws.
/// - Crashes come from the engine's event stream; stops asked for are not reported.
public class ContainerDriver: InstanceDriver, @unchecked Sendable {
    /// The engine's name (`docker`, `podman`).
    public let name: String
    /// What the driver creates and where it asks.
    public let configuration: ContainerDriverConfiguration
    let engine: any ContainerEngine
    let logger: Logger
    /// How `/health` is asked (shared with every backend).
    let probe: HTTPHealthProbe
    /// Instances being stopped on purpose: their death events are not crashes.
    let stopping = NIOLockedValueBox<Set<InstanceID>>([])
    /// Labelled containers already named in a warning as not the pool's (by engine id).
    let refused = NIOLockedValueBox<Set<String>>([])

    /// Creates the pool's driver over an engine (the engines' drivers call it).
    init(configuration: ContainerDriverConfiguration, engine: any ContainerEngine, probe: HTTPHealthProbe, logger: Logger) {
        self.name = engine.name
        self.configuration = configuration
        self.engine = engine
        self.probe = probe
        self.logger = logger
    }

    /// Asks the engine whether it answers (`GET …/_ping`).
    /// - Throws: `DriverError` with the reason when it does not.
    public func ping() async throws {
        try await engine.ping()
    }

    /// The pool's containers, sorted by instance: those labelled with the pool whose name
    /// carries the pool's prefix and that run the configured image. Another labelled
    /// container is left alone, and named in a warning once.
    public func instances() async throws -> [DriverInstance] {
        try await engine.list(label: "\(ContainerLabel.pool)=\(configuration.pool)")
            .filter(isAdoptable)
            .map { ContainerInstanceMapping.instance($0, configuration: configuration) }
            .sorted { $0.id < $1.id }
    }

    /// Whether a listed container is the pool's; warns once for each one that is not.
    private func isAdoptable(_ container: ContainerListing) -> Bool {
        guard let problem = ContainerInstanceMapping.adoptionProblem(container, configuration: configuration) else { return true }
        let isNew = refused.withLockedValue { $0.insert(container.id).inserted }
        if isNew {
            logger.warning("a container carries the pool's label but is not adopted", metadata: [
                "container": "\(container.name ?? container.id)", "reason": "\(problem)",
            ])
        }
        return false
    }

    /// Creates and starts one container; removes it when it was created but not started.
    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        guard Self.isValidName(request.id) else {
            throw DriverError("not a valid container name (letters, digits, '_', '.', '-'; starting with a letter or digit)", instance: request.id)
        }
        let container = ContainerSpecification.make(for: request, configuration: configuration)
        stopping.withLockedValue { _ = $0.remove(request.id) }
        for attempt in 1...Self.portRaceAttempts {
            _ = try await naming(request.id) { try await engine.create(container) }
            do {
                try await naming(request.id) { try await engine.start(container.name) }
                break
            } catch {
                logger.warning("container created but not started; removing it", metadata: ["instance": "\(request.id)", "error": "\(error)"])
                try? await engine.remove(container.name, force: true)
                // The engine picks the published port when it creates the container and binds
                // it when it starts it; another program can take the port in between. A new
                // container gets another port.
                guard attempt < Self.portRaceAttempts, Self.lostItsPort(error) else { throw error }
                logger.notice("its published port was taken meanwhile; creating it again", metadata: ["instance": "\(request.id)"])
            }
        }
        logger.info("container started", metadata: [
            "instance": "\(request.id)", "engine": "\(engine.name)", "image": "\(configuration.image)", "port": "\(container.port)",
        ])
        return DriverInstance(id: request.id, status: .starting)
    }

    /// How many containers one launch creates at most when their published port is taken.
    static let portRaceAttempts = 3

    /// Whether a start failed because the published port was taken ("address already in use").
    static func lostItsPort(_ error: any Error) -> Bool {
        "\(error)".lowercased().contains("address already in use")
    }

    /// Inspects the container until it runs and answers `GET /health`.
    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastProblem = "no answer yet"
        while true {
            guard let inspection = try await naming(id, { try await engine.inspect(configuration.containerName(id)) }) else {
                throw DriverError("no such container", instance: id)
            }
            let state = inspection.State
            if state?.Status == "exited" || state?.Status == "dead" || state?.Status == "stopped" {
                let reason = ContainerInstanceMapping.exitReason(code: state?.ExitCode.map(Int32.init), oomKilled: state?.OOMKilled ?? false)
                let detail = (state?.Error).flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
                throw DriverError("\(reason) before answering /health\(detail)", instance: id)
            }
            if state?.Running == true, let endpoint = ContainerInstanceMapping.endpoint(inspection, configuration: configuration) {
                let remaining = clock.now.duration(to: deadline)
                let status = await probe.get(endpoint, timeout: max(.milliseconds(100), min(probe.requestTimeout, remaining)))
                if HTTPHealthProbe.isUp(status) { return endpoint }
                lastProblem = status.map { "GET /health on \(endpoint) answered \($0)" } ?? "GET /health on \(endpoint): no answer"
            }
            if clock.now >= deadline {
                throw DriverError("did not answer GET /health within \(timeout) (\(lastProblem))", instance: id)
            }
            try await Task.sleep(for: probe.pollInterval)
        }
    }

    /// Stops the container with the grace period, then removes it.
    public func stop(_ id: InstanceID, grace: Duration) async throws {
        stopping.withLockedValue { _ = $0.insert(id) }
        let name = configuration.containerName(id)
        try await naming(id) {
            try await engine.stop(name, graceSeconds: ContainerSpecification.wholeSeconds(grace))
            try await engine.remove(name, force: false)
        }
        logger.info("container stopped and removed", metadata: ["instance": "\(id)", "engine": "\(engine.name)"])
    }

    /// Runs an engine call on an instance's container; its errors name the instance, not
    /// the container (`<pool>-<id>`, which their message still shows).
    private func naming<T>(_ id: InstanceID, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch var error as DriverError {
            error.instance = id
            throw error
        }
    }

    /// The rule for container names Docker and Podman share.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIIAlphanumeric else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || "_.-".unicodeScalars.contains($0) }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}
