#if canImport(Glibc)
import Glibc
#endif
import WSScaleCore
import WSScaleCurlHTTP

/// The container engines wsscale drives, with what differs in their configuration: the
/// variables' names, the default socket, image and API version.
public enum ContainerEngineKind: String, Sendable, Equatable, CaseIterable {
    /// Docker Engine API 1.41 (Debian's dockerd 20.10).
    case docker
    /// Podman's libpod API v4 (`podman system service`).
    case podman

    /// The variable naming the engine's API address (`DOCKER_HOST`, `PODMAN_HOST`).
    public var hostVariable: String { rawValue.uppercased() + "_HOST" }
    /// The variable naming the API version (`DOCKER_API_VERSION`, `PODMAN_API_VERSION`).
    public var apiVersionVariable: String { rawValue.uppercased() + "_API_VERSION" }
    /// The prefix of the backend's own variables (`WSSCALE_DOCKER_`, `WSSCALE_PODMAN_`).
    public var variablePrefix: String { "WSSCALE_\(rawValue.uppercased())_" }

    /// Where the engine's API listens by default.
    public var defaultDaemon: ServiceAddress {
        switch self {
        case .docker: return .unixSocket(path: "/var/run/docker.sock")
        case .podman: return .unixSocket(path: "/run/podman/podman.sock")
        }
    }

    /// The API version the paths carry by default (`1.41`, `4.0.0`).
    public var defaultAPIVersion: String {
        switch self {
        case .docker: return "1.41"
        case .podman: return "4.0.0"
        }
    }

    /// The image the servers run by default (podman names local images `localhost/…`).
    public var defaultImage: String {
        switch self {
        case .docker: return "wsscale:local"
        case .podman: return "localhost/wsscale:local"
        }
    }
}

/// A resource limit set on a container (`nofile`, `nproc`).
public struct ContainerResourceLimit: Sendable, Equatable {
    /// The limit's name without `RLIMIT_` (`nofile`, `nproc`).
    public var name: String
    /// Soft and hard value (equal).
    public var value: Int

    /// Creates a limit.
    public init(name: String, value: Int) {
        self.name = name
        self.value = value
    }

    /// `nofile` and `nproc` at or below this process's hard limits (a container engine
    /// running without CAP_SYS_RESOURCE cannot raise its containers above its own, and
    /// podman's defaults do exceed them on machines like CI's: `error setting rlimit type 7`).
    public static func withinHardLimits() -> [ContainerResourceLimit] {
        func hard(_ resource: __rlimit_resource_t, cap: Int) -> Int {
            var limit = rlimit()
            guard getrlimit(resource, &limit) == 0, limit.rlim_max != rlim_t.max else { return cap }
            return min(Int(limit.rlim_max), cap)
        }
        return [ContainerResourceLimit(name: "nofile", value: hard(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), cap: 1 << 20)),
                ContainerResourceLimit(name: "nproc", value: hard(__rlimit_resource_t(__RLIMIT_NPROC.rawValue), cap: 4096))]
    }
}

/// How a container backend (Docker, Podman) creates `wsscale server` containers, and which
/// engine API it asks.
public struct ContainerDriverConfiguration: Sendable, Equatable {
    /// How the proxy reaches a container.
    public enum Reachability: Sendable, Equatable {
        /// The container port is published on this host address with an ephemeral host
        /// port; the endpoint is that address and port (`0.0.0.0` is reached as 127.0.0.1).
        /// With `network`, the container also joins that network (to reach Redis there by
        /// name) while the balancer and HAProxy on the host use the published port.
        case publish(hostAddress: String, network: String? = nil)
        /// The container joins this network and publishes nothing; the endpoint is the
        /// container's address in that network and its port, for a proxy in the same
        /// network (HAProxy 2.6 does not resolve the names of dynamic servers).
        case network(name: String)
    }

    /// Which engine: Docker or Podman.
    public var engine: ContainerEngineKind
    /// The engine's API (`DOCKER_HOST`, `PODMAN_HOST`): its unix socket or a restricting proxy.
    public var daemon: ServiceAddress
    /// The API version the paths are prefixed with (`v1.41`, `v4.0.0`).
    public var apiVersion: String
    /// The image the servers run.
    public var image: String
    /// The pool: containers carry the label `wsscale.pool=<pool>` and are listed by it.
    public var pool: String
    /// The port the server listens on inside its container (`SERVER_PORT`), unless the
    /// launch request names one.
    public var containerPort: Int
    /// Published port or network attachment.
    public var reachability: Reachability
    /// The container's stop timeout (SIGTERM → SIGKILL), also used when `stop` is called
    /// with no shorter grace.
    public var stopGrace: Duration
    /// Environment given to every server, beneath the launch request's own.
    public var environment: [String: String]
    /// A command replacing the image's `CMD`, if any.
    public var command: [String]?
    /// Resource limits set on every container (Podman; Docker keeps the daemon's defaults).
    public var resourceLimits: [ContainerResourceLimit]
    /// How transient engine failures (unreachable, 5xx on idempotent calls) are retried.
    public var retry: RetryBackoff
    /// The compose project the servers belong to (`WSSCALE_COMPOSE_PROJECT`), or `nil`
    /// outside compose: its labels make `compose ps` list them and `compose down` remove them.
    public var composeProject: String?

    /// Creates a configuration.
    /// - Parameters:
    ///   - engine: Docker or Podman; `daemon`, `apiVersion` and `resourceLimits` default by it.
    public init(engine: ContainerEngineKind = .docker, image: String, pool: String = "wsscale",
                daemon: ServiceAddress? = nil, apiVersion: String? = nil, containerPort: Int = 8088,
                reachability: Reachability = .publish(hostAddress: "127.0.0.1"),
                stopGrace: Duration = .seconds(10), environment: [String: String] = [:],
                command: [String]? = nil, resourceLimits: [ContainerResourceLimit]? = nil,
                retry: RetryBackoff = RetryBackoff(), composeProject: String? = nil) {
        let version = apiVersion ?? engine.defaultAPIVersion
        self.engine = engine
        self.daemon = daemon ?? engine.defaultDaemon
        self.apiVersion = version.hasPrefix("v") ? version : "v" + version
        self.image = image
        self.pool = pool
        self.containerPort = containerPort
        self.reachability = reachability
        self.stopGrace = stopGrace
        self.environment = environment
        self.command = command
        self.resourceLimits = resourceLimits ?? (engine == .podman ? ContainerResourceLimit.withinHardLimits() : [])
        self.retry = retry
        self.composeProject = composeProject
    }

    /// What every container of the pool is named with: `<pool>-`. The engine proxy lets
    /// start, stop, inspect and delete through only for names with this prefix.
    public var namePrefix: String { pool + "-" }

    /// The container's name for an instance: `<pool>-<id>` (`wsscale-ws-3f2a1c`).
    public func containerName(_ id: InstanceID) -> String { namePrefix + id }

    /// Reads the configuration of one engine from the environment; problems are recorded in
    /// `reader` (naming the variable) and reported by its `finish()`. `X` is `DOCKER` or `PODMAN`:
    ///
    /// | variable | default |
    /// |---|---|
    /// | `X_HOST` | `unix:///var/run/docker.sock`, `unix:///run/podman/podman.sock` |
    /// | `X_API_VERSION` | `1.41`, `4.0.0` |
    /// | `WSSCALE_X_IMAGE` | `wsscale:local`, `localhost/wsscale:local` |
    /// | `WSSCALE_POOL` | `wsscale` |
    /// | `WSSCALE_X_CONTAINER_PORT` | `8088` |
    /// | `WSSCALE_X_NETWORK` | empty: the engine's default network |
    /// | `WSSCALE_X_PUBLISH_ADDRESS` | `127.0.0.1` without a network; none with one |
    /// | `WSSCALE_X_STOP_GRACE` | `10` (seconds, 0–3600) |
    /// | `WSSCALE_COMPOSE_PROJECT` | empty: no compose project (compose files set it) |
    ///
    /// No network: published on the address. A network alone: reached at the container's
    /// address in it. Both: joins the network and is reached on the published port.
    public static func read(from reader: inout EnvironmentReader, engine: ContainerEngineKind = .docker) -> ContainerDriverConfiguration {
        let prefix = engine.variablePrefix
        var daemon = engine.defaultDaemon
        if let text = reader.raw(engine.hostVariable), !text.isEmpty {
            do { daemon = try ServiceAddress(parsing: text, variable: engine.hostVariable) } catch let error as ServiceAddressError {
                reader.report(engine.hostVariable, "\(error.value): \(error.reason)")
            } catch {
                reader.report(engine.hostVariable, "\(error)")
            }
        }
        let version = reader.string(engine.apiVersionVariable, default: engine.defaultAPIVersion, rule: Self.apiVersionProblem)
        let image = reader.string(prefix + "IMAGE", default: engine.defaultImage, rule: Self.imageProblem)
        let pool = reader.string("WSSCALE_POOL", default: "wsscale", rule: SettingRule.poolProblem)
        let port = reader.int(prefix + "CONTAINER_PORT", default: 8088, in: 1...65535)
        let network = reader.string(prefix + "NETWORK", default: "")
        if !network.isEmpty, let problem = Self.networkProblem(network) { reader.report(prefix + "NETWORK", problem) }
        let publish = reader.string(prefix + "PUBLISH_ADDRESS", default: network.isEmpty ? "127.0.0.1" : "")
        if !publish.isEmpty, !SettingRule.isIPAddress(publish) {
            reader.report(prefix + "PUBLISH_ADDRESS", "must be an IP address, got \"\(publish)\"")
        }
        let reachability: Reachability
        switch (network.isEmpty, publish.isEmpty) {
        case (true, _): reachability = .publish(hostAddress: publish.isEmpty ? "127.0.0.1" : publish)
        case (false, true): reachability = .network(name: network)
        case (false, false): reachability = .publish(hostAddress: publish, network: network)
        }
        let grace = reader.seconds(prefix + "STOP_GRACE", default: .seconds(10), in: 0...3600)
        let project = reader.string("WSSCALE_COMPOSE_PROJECT", default: "", rule: Self.composeProjectProblem)
        return ContainerDriverConfiguration(
            engine: engine, image: image, pool: pool, daemon: daemon, apiVersion: version, containerPort: port,
            reachability: reachability, stopGrace: grace, composeProject: project.isEmpty ? nil : project)
    }

    /// `WSSCALE_COMPOSE_PROJECT`: a compose project name as both composes write it (lowercase
    /// letters, digits, '_' and '-', starting with a letter or digit, at most 63).
    static func composeProjectProblem(_ project: String) -> String? {
        guard !project.isEmpty else { return nil }
        let allowed = project.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f || $0 == 0x2d }
        guard allowed, project.count <= 63, let first = project.utf8.first, first != 0x5f, first != 0x2d else {
            return "must be a compose project name (lowercase letters, digits, '_' or '-', starting with a letter or digit, at most 63), got \"\(SettingRule.escaped(project))\""
        }
        return nil
    }

    /// `X_API_VERSION`: numbers separated by dots, optionally after `v` (`1.41`, `v4.0.0`).
    static func apiVersionProblem(_ version: String) -> String? {
        let numbers = version.hasPrefix("v") ? version.dropFirst() : Substring(version)
        let parts = numbers.split(separator: ".", omittingEmptySubsequences: false)
        guard !numbers.isEmpty, parts.count <= 4,
              parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }) else {
            return "must be a version such as 1.41 or 4.0.0, got \"\(version)\""
        }
        return nil
    }

    /// `WSSCALE_X_IMAGE`: an image reference, 1–255 of `[A-Za-z0-9._/:@-]`.
    static func imageProblem(_ image: String) -> String? {
        guard !image.isEmpty, image.utf8.count <= 255, image.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._/:@-".unicodeScalars.contains($0)
        }) else {
            return "must be an image reference (letters, digits, '.', '_', '/', ':', '@', '-'), got \"\(image)\""
        }
        return nil
    }

    /// `WSSCALE_X_NETWORK`: a network name, 1–64 of `[A-Za-z0-9._-]`.
    static func networkProblem(_ network: String) -> String? {
        guard network.utf8.count <= 64, network.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }) else {
            return "must be a network name (letters, digits, '.', '_', '-'), got \"\(network)\""
        }
        return nil
    }
}
