import Foundation
import Logging
import WSScaleCore

/// Runs `wsscale server` instances as Docker Swarm services, one service with one replica
/// per server, through a swarm manager's Engine API 1.41 (over its unix socket or a
/// restricting proxy), so the balancer drains and removes exactly the server it chose, on
/// whichever node swarm placed it.
///
/// The contract is kept by `ContainerDriver` (labels `wsscale.pool`, `wsscale.instance`,
/// `wsscale.port` on the service and its task container; adoption by label, name and image;
/// crashes from the task containers' `die` events), over `SwarmEngineAPI`:
///
/// - swarm never restarts a server's task (restart condition `none`): the balancer decides;
/// - a server is reached at its port published in `host` mode on its node (no routing mesh),
///   or at its task's address in a network (an overlay shared with HAProxy);
/// - in a stack (`WSSCALE_SWARM_STACK`), the services carry the stack's namespace label, so
///   `docker stack rm` removes the servers with the rest of the stack.
public final class SwarmDriver: ContainerDriver, @unchecked Sendable {
    /// Creates a driver for one pool.
    /// - Parameters:
    ///   - configuration: image, pool, daemon address (a manager), reachability, stop grace.
    ///   - stack: the swarm stack the servers join, if any.
    ///   - probe: how `/health` is asked once a task runs.
    ///   - logger: where the driver logs.
    public init(configuration: ContainerDriverConfiguration, stack: String? = nil,
                probe: HTTPHealthProbe = HTTPHealthProbe(), logger: Logger) {
        super.init(configuration: configuration, engine: SwarmEngineAPI(configuration: configuration, stack: stack, logger: logger),
                   probe: probe, logger: logger)
    }

    /// `WSSCALE_SWARM_STACK`: a stack name as `docker stack deploy` takes it, 1–63 of
    /// `[A-Za-z0-9_-]`, starting with a letter or digit.
    public static func stackProblem(_ stack: String) -> String? {
        if stack.isEmpty { return nil }
        let allowed = stack.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }
        let first = stack.unicodeScalars.first.map { $0.isASCII && CharacterSet.alphanumerics.contains($0) } ?? false
        guard allowed, first, stack.count <= 63 else {
            return "must be a swarm stack name (letters, digits, '_' or '-', starting with a letter or digit, at most 63), got \"\(SettingRule.escaped(stack))\""
        }
        return nil
    }
}
