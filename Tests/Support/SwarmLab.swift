import Foundation

/// A swarm of several Docker daemons on this machine (`scripts/swarm-lab.sh`): each node a
/// dockerd in a network namespace of its own, with its own address on a bridge the script
/// makes; node 1 the manager, the others workers; the images loaded into each. Every request
/// a test sends goes to those addresses (the test's own hosts), nothing else.
public final class SwarmLab: @unchecked Sendable {
    /// `scripts/swarm-lab.sh`.
    public static let script = DockerTestEnvironment.repositoryRoot.appendingPathComponent("scripts/swarm-lab.sh").path
    /// The images every node gets: the product's, Redis's and HAProxy's (`docker/stack.yml`'s).
    public static let images = [DockerTestEnvironment.productImage, "wsscale-redis:local", "wsscale-haproxy:local"]

    /// Why the lab cannot be made here, or `nil` when it can.
    public static let unavailableReason: String? = {
        if let reason = DockerTestEnvironment.unavailableReason { return reason }
        // The script installs iproute2, iptables and nsenter itself when they are missing.
        guard geteuid() == 0 else { return "the swarm lab needs root (network namespaces, a bridge, dockerd)" }
        return nil
    }()

    /// How many nodes it has.
    public let nodes: Int

    private init(nodes: Int) { self.nodes = nodes }

    /// Makes a lab of `nodes` nodes (removing what a crashed run left first).
    /// - Throws: when the script fails (its output is in the error).
    public static func up(nodes: Int = 3) async throws -> SwarmLab {
        if let problem = SwarmStackDeployment.supportImages { throw TestEnvironmentError(problem) }
        _ = await DockerTestEnvironment.runDetached(script, ["down"])
        let made = await DockerTestEnvironment.runDetached(script, ["up", "\(nodes)"] + images)
        guard made.status == 0 else {
            _ = await DockerTestEnvironment.runDetached(script, ["down"])
            throw TestEnvironmentError("swarm-lab.sh up \(nodes): \(made.output.suffix(3000))")
        }
        return SwarmLab(nodes: nodes)
    }

    /// Node `index`'s address on the lab's bridge (node 1 is the manager).
    public func address(ofNode index: Int) -> String { "192.168.251.\(10 + index)" }

    /// Node `index`'s Docker socket.
    public func socket(ofNode index: Int) -> String { "/run/wsslab/n\(index)/docker.sock" }

    /// The `docker` CLI on node `index`.
    @discardableResult
    public func docker(_ index: Int, _ arguments: [String], environment: [String: String] = [:]) async -> (status: Int32, output: String) {
        await DockerTestEnvironment.runDetached("docker", ["-H", "unix://\(socket(ofNode: index))"] + arguments, environment: environment)
    }

    /// The index of the node with swarm id `id`, by its address.
    public func index(ofNodeID id: String) async -> Int? {
        let address = await docker(1, ["node", "inspect", "--format", "{{.Status.Addr}}", id]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (1...nodes).first { self.address(ofNode: $0) == address }
    }

    /// Stops node `index` at once: its link down, its dockerd, containerd and containers killed.
    public func stopNode(_ index: Int) async -> (status: Int32, output: String) {
        await DockerTestEnvironment.runDetached(Self.script, ["stop-node", "\(index)"])
    }

    /// Removes every node, namespace, address and file of the lab.
    public func down() async {
        _ = await DockerTestEnvironment.runDetached(Self.script, ["down"])
    }
}
