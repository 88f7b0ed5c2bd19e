import Foundation
import Testing
import WSScaleCore
@testable import WSScaleBackends

/// Servers in a compose project: their labels, what the engine proxy lets through, the
/// project's name as a setting, and the warden's decision when the proxy is told to stop. Pure.
@Suite struct ComposeProjectTests {
    static let configuration = ContainerDriverConfiguration(image: "wsscale:local", pool: "wsscale",
                                                            reachability: .network(name: "wsscale_net"),
                                                            composeProject: "wsscale")

    @Test func serversCarryTheProjectsLabelsForBothComposes() {
        let spec = ContainerSpecification.make(for: LaunchRequest(id: "ws-1"), configuration: Self.configuration)
        #expect(spec.labels == [
            "wsscale.pool": "wsscale", "wsscale.instance": "ws-1", "wsscale.port": "8088",
            "com.docker.compose.project": "wsscale", "com.docker.compose.service": "server",
            "com.docker.compose.oneoff": "False",
            "io.podman.compose.project": "wsscale", "io.podman.compose.service": "server",
        ])
        var outside = Self.configuration
        outside.composeProject = nil
        #expect(ContainerSpecification.make(for: LaunchRequest(id: "ws-1"), configuration: outside).labels.count == 3)
    }

    @Test func theProxyAllowsExactlyTheProjectsLabels() throws {
        let policy = EngineProxyPolicy(configuration: Self.configuration)
        let (spec, _) = DockerContainerSpec.make(for: LaunchRequest(id: "ws-1"), configuration: Self.configuration)
        let body = try JSONEncoder().encode(spec)
        let allowed = policy.decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=wsscale-ws-1", body: body))
        guard case .forward = allowed else {
            Issue.record("the driver's own body was refused: \(allowed)")
            return
        }
        for (label, value) in [("com.docker.compose.project", "other"), ("com.docker.compose.service", "balancer"),
                               ("io.podman.compose.project", "other")] {
            var object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            var labels = try #require(object["Labels"] as? [String: String])
            labels[label] = value
            object["Labels"] = labels
            let tampered = try JSONSerialization.data(withJSONObject: object)
            let decision = policy.decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=wsscale-ws-1", body: tampered))
            guard case .refuse(403, let reason) = decision else {
                Issue.record("\(label)=\(value) was let through")
                continue
            }
            #expect(reason.contains(label))
        }
        // Outside a project, a project label is a label outside the list.
        var outside = Self.configuration
        outside.composeProject = nil
        let refused = EngineProxyPolicy(configuration: outside)
            .decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=wsscale-ws-1", body: body))
        guard case .refuse(403, _) = refused else {
            Issue.record("a project's labels were let through for a pool outside any project")
            return
        }
    }

    @Test func theProjectNameIsCheckedAndNamed() {
        #expect(ContainerDriverConfiguration.composeProjectProblem("wsscale-test_1") == nil)
        for bad in ["Wsscale", "-x", "_x", "a b", "a.b", String(repeating: "a", count: 64)] {
            #expect(ContainerDriverConfiguration.composeProjectProblem(bad) != nil, "\(bad)")
        }
    }

    static func container(_ id: String, _ labels: [String: String], _ status: DriverInstanceStatus) -> ContainerListing {
        ContainerListing(id: id, name: id, labels: labels, status: status, publishedPorts: [:], networkAddresses: [:])
    }

    @Test func theProjectIsDownWhenEverythingButServersAndTheProxyHasStopped() {
        let server = Self.container("s1", ["wsscale.pool": "wsscale"], .running)
        let proxy = Self.container("abc123def456aa", [:], .running)
        let redis = Self.container("r1", [:], .running)
        let secrets = Self.container("k1", [:], .exited(code: 0))
        #expect(!ComposeProjectWarden.projectIsDown([server, proxy, redis, secrets], pool: "wsscale", ownID: "abc123def456"))
        let stopped = Self.container("r1", [:], .exited(code: 0))
        #expect(ComposeProjectWarden.projectIsDown([server, proxy, stopped, secrets], pool: "wsscale", ownID: "abc123def456"))
        // One that is still stopping (podman's `stopping`, its grace not over) goes down too.
        var stopping = Self.container("r1", [:], .running)
        stopping.isStopping = true
        #expect(ComposeProjectWarden.projectIsDown([server, proxy, stopping, secrets], pool: "wsscale", ownID: "abc123def456"))
        // A container that is still being created counts as running: a restart, not a down.
        let created = Self.container("b1", [:], .starting)
        #expect(!ComposeProjectWarden.projectIsDown([server, proxy, stopped, created], pool: "wsscale", ownID: "abc123def456"))
    }

    @Test func onlyThisProjectsServersThatStillRunAreRemoved() {
        let mine = ["wsscale.pool": "wsscale", "com.docker.compose.project": "wsscale"]
        #expect(ComposeProjectWarden.isRunningServer(Self.container("s1", mine, .running), project: "wsscale"))
        #expect(ComposeProjectWarden.isRunningServer(Self.container("s2", mine, .starting), project: "wsscale"))
        // Stopped already: compose (docker-compose's `down`) removes it itself.
        #expect(!ComposeProjectWarden.isRunningServer(Self.container("s3", mine, .exited(code: 0)), project: "wsscale"))
        // The same pool started outside this project (by hand, or `wsscale up`) is not ours to remove.
        #expect(!ComposeProjectWarden.isRunningServer(Self.container("s4", ["wsscale.pool": "wsscale"], .running), project: "wsscale"))
    }
}
