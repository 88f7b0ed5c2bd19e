import Logging
import WSScaleCore

/// Runs `wsscale server` instances as Podman containers through the libpod REST API v4
/// (`podman system service`, Debian's podman 4.3), over its unix socket or TCP.
///
/// The contract is kept by `ContainerDriver`, as for Docker (labels `wsscale.pool`,
/// `wsscale.instance`, `wsscale.port`; adoption by label; a port published on 127.0.0.1 or
/// a network address; crashes from the `died` events); this type picks the libpod API. Every
/// container gets `nofile`/`nproc` limits at or below the balancer's hard limits: podman's
/// defaults exceed them where it lacks CAP_SYS_RESOURCE, and then no container starts.
public final class PodmanDriver: ContainerDriver, @unchecked Sendable {
    /// Creates a driver for one pool.
    /// - Parameters:
    ///   - configuration: image, pool, service address, reachability, stop grace, limits
    ///     (`engine` should be `.podman`).
    ///   - probe: how `/health` is asked once a container runs.
    ///   - logger: where the driver logs.
    public init(configuration: ContainerDriverConfiguration, probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) {
        super.init(configuration: configuration, engine: PodmanLibpodAPI(configuration: configuration, logger: logger),
                   probe: probe, logger: logger)
    }
}
