import WSScaleCore

/// How the Docker backend creates `wsscale server` containers, and which daemon it asks.
public struct DockerDriverConfiguration: Sendable, Equatable {
    /// How the load balancer reaches a container.
    public enum Reachability: Sendable, Equatable {
        /// The container port is published on this host address with an ephemeral host
        /// port; the endpoint is that address and port (`0.0.0.0` is reached as 127.0.0.1).
        /// With `network`, the container also joins that Docker network (to reach Redis
        /// there by name) while the balancer and HAProxy on the host use the published port.
        case publish(hostAddress: String, network: String? = nil)
        /// The container joins this Docker network and publishes nothing; the endpoint is
        /// the container's address in that network and its port, for a load balancer in the
        /// same network (HAProxy 2.6 does not resolve the names of dynamic servers).
        case network(name: String)
    }

    /// The daemon's API (`DOCKER_HOST`): its unix socket or a restricting proxy.
    public var daemon: HTTPAPIAddress
    /// The Engine API version the paths are prefixed with (`v1.41`: Debian's dockerd 20.10).
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
    /// How transient daemon failures (unreachable, 5xx on idempotent calls) are retried.
    public var retry: RetryBackoff

    /// Creates a configuration.
    public init(image: String, pool: String = "wsscale",
                daemon: HTTPAPIAddress = .unixSocket(path: "/var/run/docker.sock"),
                apiVersion: String = "v1.41", containerPort: Int = 8088,
                reachability: Reachability = .publish(hostAddress: "127.0.0.1"),
                stopGrace: Duration = .seconds(10), environment: [String: String] = [:],
                command: [String]? = nil, retry: RetryBackoff = RetryBackoff()) {
        self.daemon = daemon
        self.apiVersion = apiVersion.hasPrefix("v") ? apiVersion : "v" + apiVersion
        self.image = image
        self.pool = pool
        self.containerPort = containerPort
        self.reachability = reachability
        self.stopGrace = stopGrace
        self.environment = environment
        self.command = command
        self.retry = retry
    }

    /// Reads the configuration from the environment; problems are recorded in `reader`
    /// (naming the variable) and reported by its `finish()`.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `DOCKER_HOST` | `unix:///var/run/docker.sock` |
    /// | `DOCKER_API_VERSION` | `1.41` |
    /// | `WSSCALE_DOCKER_IMAGE` | `wsscale:local` |
    /// | `WSSCALE_POOL` | `wsscale` |
    /// | `WSSCALE_DOCKER_CONTAINER_PORT` | `8088` |
    /// | `WSSCALE_DOCKER_NETWORK` | empty: the default bridge |
    /// | `WSSCALE_DOCKER_PUBLISH_ADDRESS` | `127.0.0.1` without a network; none with one |
    ///
    /// No network: published on the address. A network alone: reached at the container's
    /// address in it. Both: joins the network and is reached on the published port.
    /// | `WSSCALE_DOCKER_STOP_GRACE` | `10` (seconds) |
    public static func read(from reader: inout EnvironmentReader) -> DockerDriverConfiguration {
        var daemon = HTTPAPIAddress.unixSocket(path: "/var/run/docker.sock")
        if let text = reader.raw("DOCKER_HOST"), !text.isEmpty {
            do { daemon = try HTTPAPIAddress(parsing: text, variable: "DOCKER_HOST") } catch let error as HTTPAPIAddressError {
                reader.report("DOCKER_HOST", "\(error.value): \(error.reason)")
            } catch {
                reader.report("DOCKER_HOST", "\(error)")
            }
        }
        let version = reader.string("DOCKER_API_VERSION", default: "1.41")
        let image = reader.string("WSSCALE_DOCKER_IMAGE", default: "wsscale:local")
        let pool = reader.string("WSSCALE_POOL", default: "wsscale")
        if pool.isEmpty || !pool.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
            reader.report("WSSCALE_POOL", "\(pool): use letters, digits, '-', '_' or '.'")
        }
        let port = reader.int("WSSCALE_DOCKER_CONTAINER_PORT", default: 8088, in: 1...65535)
        let network = reader.string("WSSCALE_DOCKER_NETWORK", default: "")
        let publish = reader.string("WSSCALE_DOCKER_PUBLISH_ADDRESS", default: network.isEmpty ? "127.0.0.1" : "")
        let reachability: Reachability
        switch (network.isEmpty, publish.isEmpty) {
        case (true, _): reachability = .publish(hostAddress: publish.isEmpty ? "127.0.0.1" : publish)
        case (false, true): reachability = .network(name: network)
        case (false, false): reachability = .publish(hostAddress: publish, network: network)
        }
        let grace = reader.seconds("WSSCALE_DOCKER_STOP_GRACE", default: .seconds(10))
        return DockerDriverConfiguration(
            image: image, pool: pool, daemon: daemon, apiVersion: version, containerPort: port,
            reachability: reachability,
            stopGrace: grace)
    }
}
