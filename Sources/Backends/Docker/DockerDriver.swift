import Foundation
import Logging
import NIOConcurrencyHelpers
import WSScaleCore

/// Runs `wsscale server` instances as Docker containers through the Engine API 1.41
/// (Debian's dockerd 20.10), over the daemon's unix socket or a restricting proxy.
///
/// - Containers are named after the instance and carry the labels `wsscale.pool`,
///   `wsscale.instance` and `wsscale.port`; `instances()` lists them by the pool label, so
///   a restarted balancer adopts what an earlier run launched.
/// - A container is reached on a port published on the configured host address
///   (127.0.0.1 by default, ephemeral host port) or, in a named network, at its address
///   there (HAProxy 2.6 cannot resolve the names of servers added through its runtime API).
/// - Crashes come from the daemon's event stream (`die`), stops asked for are not reported.
public final class DockerDriver: InstanceDriver {
    public let name = "docker"
    /// What the driver creates and where it asks.
    public let configuration: DockerDriverConfiguration
    let api: DockerEngineAPI
    let logger: Logger
    /// How `/health` is asked (shared with every backend).
    let probe: HTTPHealthProbe
    /// Instances being stopped on purpose: their `die` events are not crashes.
    let stopping = NIOLockedValueBox<Set<InstanceID>>([])

    /// Creates a driver for one pool.
    /// - Parameters:
    ///   - configuration: image, pool, daemon address, reachability, stop grace.
    ///   - probe: how `/health` is asked once a container runs.
    ///   - logger: where the driver logs.
    public init(configuration: DockerDriverConfiguration, probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) {
        self.configuration = configuration
        self.api = DockerEngineAPI(configuration: configuration, logger: logger)
        self.probe = probe
        self.logger = logger
    }

    /// Asks the daemon whether it answers (`GET /_ping`).
    /// - Throws: `DriverError` with the reason when it does not.
    public func ping() async throws {
        _ = try await api.ping()
    }

    public func instances() async throws -> [DriverInstance] {
        try await api.list(label: "\(DockerLabel.pool)=\(configuration.pool)")
            .map { DockerInstanceMapping.instance($0, configuration: configuration) }
            .sorted { $0.id < $1.id }
    }

    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        guard Self.isValidName(request.id) else {
            throw DriverError("not a valid container name (letters, digits, '_', '.', '-'; starting with a letter or digit)", instance: request.id)
        }
        let (spec, port) = DockerContainerSpec.make(for: request, configuration: configuration)
        stopping.withLockedValue { _ = $0.remove(request.id) }
        _ = try await api.create(name: request.id, spec: spec)
        do {
            try await api.start(request.id)
        } catch {
            logger.warning("container created but not started; removing it", metadata: ["instance": "\(request.id)", "error": "\(error)"])
            try? await api.remove(request.id, force: true)
            throw error
        }
        logger.info("container started", metadata: ["instance": "\(request.id)", "image": "\(configuration.image)", "port": "\(port)"])
        return DriverInstance(id: request.id, status: .starting)
    }

    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastProblem = "no answer yet"
        while true {
            guard let inspection = try await api.inspect(id) else {
                throw DriverError("no such container", instance: id)
            }
            let state = inspection.State
            if state?.Status == "exited" || state?.Status == "dead" {
                let reason = DockerInstanceMapping.exitReason(code: state?.ExitCode.map(Int32.init), oomKilled: state?.OOMKilled ?? false)
                let detail = (state?.Error).flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
                throw DriverError("\(reason) before answering /health\(detail)", instance: id)
            }
            if state?.Running == true, let endpoint = endpoint(of: inspection, id: id) {
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

    public func stop(_ id: InstanceID, grace: Duration) async throws {
        stopping.withLockedValue { _ = $0.insert(id) }
        let (seconds, attoseconds) = grace.components
        try await api.stop(id, graceSeconds: max(0, Int(seconds) + (attoseconds > 0 ? 1 : 0)))
        try await api.remove(id)
        logger.info("container stopped and removed", metadata: ["instance": "\(id)"])
    }

    /// Where the balancer reaches an inspected container, once Docker has published its port.
    private func endpoint(of inspection: DockerContainerInspection, id: InstanceID) -> Endpoint? {
        let port = inspection.Config?.Labels?[DockerLabel.port].flatMap(Int.init) ?? configuration.containerPort
        switch configuration.reachability {
        case let .publish(address, _):
            return DockerInstanceMapping.publishedEndpoint(inspection, port: port, hostAddress: address)
        case let .network(name):
            return DockerInstanceMapping.networkEndpoint(inspection, port: port, network: name)
        }
    }

    /// Docker's rule for container names.
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
