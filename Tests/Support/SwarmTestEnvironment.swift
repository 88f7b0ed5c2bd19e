import Foundation

/// A single-node swarm on the dockerd the Docker tests use (`DockerTestEnvironment`): the
/// first use makes that dockerd a swarm manager (`docker swarm init`, advertised on
/// 127.0.0.1, so nothing leaves the machine), and it stays one for the rest of the run.
public enum SwarmTestEnvironment {
    /// Why the swarm tests cannot run here, or `nil` when they can.
    public static let unavailableReason: String? = {
        if let reason = DockerTestEnvironment.unavailableReason { return reason }
        if state() == "active" { return nil }
        let initialized = DockerTestEnvironment.docker("swarm", "init", "--advertise-addr", "127.0.0.1")
        guard initialized.status == 0 || state() == "active" else {
            let reason = "docker swarm init failed: \(initialized.output)"
            print("swarm tests skipped: \(reason)")
            return reason
        }
        return nil
    }()

    /// Whether the swarm tests can run.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// The dockerd's swarm state (`active`, `inactive` …).
    static func state() -> String {
        DockerTestEnvironment.docker("info", "--format", "{{.Swarm.LocalNodeState}}").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes every service labelled `wsscale.pool=<pool>` (test cleanup); their tasks go with them.
    public static func removeServices(ofPool pool: String) {
        let listed = DockerTestEnvironment.docker("service", "ls", "-q", "--filter", "label=wsscale.pool=\(pool)")
        let ids = listed.output.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        if !ids.isEmpty { ContainerCLI.docker.run(["service", "rm"] + ids) }
    }

    /// The running task container of service `name` on this node, if any.
    public static func taskContainer(ofService name: String) -> String? {
        DockerTestEnvironment.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(name)")
            .output.split(whereSeparator: \.isNewline).first.map(String.init)
    }
}
