import Logging
import WSScaleCore

/// Runs `wsscale server` instances as Docker containers through the Engine API 1.41
/// (Debian's dockerd 20.10), over the daemon's unix socket or a restricting proxy.
///
/// The contract is kept by `ContainerDriver` (labels `wsscale.pool`, `wsscale.instance`,
/// `wsscale.port`; adoption by label; a port published on 127.0.0.1 or a network address;
/// crashes from the `die` events); this type picks Docker's API.
public final class DockerDriver: ContainerDriver, @unchecked Sendable {
    /// Creates a driver for one pool.
    /// - Parameters:
    ///   - configuration: image, pool, daemon address, reachability, stop grace.
    ///   - probe: how `/health` is asked once a container runs.
    ///   - logger: where the driver logs.
    public init(configuration: ContainerDriverConfiguration, probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) {
        super.init(configuration: configuration, engine: DockerEngineAPI(configuration: configuration, logger: logger),
                   probe: probe, logger: logger)
    }
}
