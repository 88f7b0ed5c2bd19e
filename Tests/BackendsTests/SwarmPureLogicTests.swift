import Foundation
import Testing
import WSScaleCore
@testable import WSScaleBackends

/// The swarm driver's pure parts: the service it asks for, how services and tasks read as
/// the pool's instances, and the engine proxy's swarm rules (the real swarm is in
/// `SwarmDriverConformanceTests`).
@Suite struct SwarmPureLogicTests {
    static let published = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1", stopGrace: .seconds(3))
    static let networked = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1", reachability: .network(name: "wsscale_net"))

    static func spec(_ configuration: ContainerDriverConfiguration, stack: String? = nil) -> SwarmServiceSpec {
        SwarmServiceSpec(ContainerSpecification.make(for: LaunchRequest(id: "ws-1", environment: ["A": "1"]), configuration: configuration),
                         stack: stack, publishedPort: 31000)
    }

    static func json(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    @Test("one service per server: one replica, never restarted by swarm, labelled like a container, its port published in host mode")
    func theServiceItAsksFor() throws {
        let body = try Self.json(Self.spec(Self.published, stack: "wsscale"))
        let fields = try #require(body.object)
        #expect(fields["Name"] == .string("p1-ws-1"))
        #expect(fields["Mode"] == .object(["Replicated": .object(["Replicas": .integer(1)])]))
        let labels = try #require(fields["Labels"]?.object)
        #expect(labels["wsscale.pool"] == .string("p1") && labels["wsscale.instance"] == .string("ws-1") && labels["wsscale.port"] == .string("8088"))
        #expect(labels["com.docker.stack.namespace"] == .string("wsscale"), "docker stack rm removes the servers with the stack")
        let task = try #require(fields["TaskTemplate"]?.object)
        #expect(task["RestartPolicy"] == .object(["Condition": .string("none")]))
        let container = try #require(task["ContainerSpec"]?.object)
        #expect(container["Image"] == .string("wsscale:local"))
        #expect(container["Labels"] == fields["Labels"], "the task container's die events name the server")
        #expect(container["StopGracePeriod"] == .integer(3_000_000_000))
        #expect(container["Env"]?.strings?.contains("A=1") == true && container["Env"]?.strings?.contains("SERVER_ID=ws-1") == true)
        #expect(fields["EndpointSpec"] == .object(["Ports": .array([.object([
            "Protocol": .string("tcp"), "TargetPort": .integer(8088), "PublishedPort": .integer(31000),
            "PublishMode": .string("host")])])]))
        #expect(task["Networks"] == nil)

        let networked = try #require(try Self.json(Self.spec(Self.networked)).object)
        #expect(networked["TaskTemplate"]?.object?["Networks"] == .array([.object(["Target": .string("wsscale_net")])]))
        #expect(networked["EndpointSpec"] == .object([:]))
        #expect(networked["Labels"]?.object?["com.docker.stack.namespace"] == nil)
    }

    static func task(_ state: String, service: String = "s1", index: Int = 1, exitCode: Int? = nil,
                     ports: String = "", networks: String = "") throws -> SwarmTask {
        let text = """
            {"ID": "t\(index)", "ServiceID": "\(service)", "Version": {"Index": \(index)},
             "Status": {"State": "\(state)", "ContainerStatus": {"ExitCode": \(exitCode.map(String.init) ?? "null")},
                        "PortStatus": {"Ports": [\(ports)]}},
             "NetworksAttachments": [\(networks)]}
            """
        return try JSONDecoder().decode(SwarmTask.self, from: Data(text.utf8))
    }

    @Test("a task's state is the server's: pending is starting, running runs, failed or shut down has exited with its code")
    func taskStates() throws {
        #expect(SwarmTaskMapping.status(nil) == .starting)
        for state in ["new", "pending", "assigned", "preparing", "starting"] {
            #expect(SwarmTaskMapping.status(try Self.task(state)) == .starting, "\(state)")
        }
        #expect(SwarmTaskMapping.status(try Self.task("running")) == .running)
        #expect(SwarmTaskMapping.status(try Self.task("failed", exitCode: 137)) == .exited(code: 137))
        #expect(SwarmTaskMapping.status(try Self.task("shutdown", exitCode: 0)) == .exited(code: 0))
        #expect(SwarmTaskMapping.status(try Self.task("rejected")) == .exited(code: nil))
    }

    @Test("a service reads as an instance at its task's published port or network address, with its newest task")
    func servicesReadAsInstances() throws {
        let old = try Self.task("failed", index: 3, exitCode: 1)
        let current = try Self.task("running", index: 7,
                                    ports: #"{"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 30001}"#,
                                    networks: #"{"Network": {"Spec": {"Name": "wsscale_net"}}, "Addresses": ["10.0.1.5/24"]}"#)
        let other = try Self.task("running", service: "s2", index: 9)
        let chosen = try #require(SwarmTaskMapping.currentTask(of: "s1", in: [old, current, other]))
        #expect(chosen.ID == "t7")
        let service = try JSONDecoder().decode(SwarmService.self, from: Data("""
            {"ID": "s1", "Spec": {"Name": "p1-ws-1", "Labels": {"wsscale.pool": "p1", "wsscale.instance": "ws-1", "wsscale.port": "8088"},
             "TaskTemplate": {"ContainerSpec": {"Image": "wsscale:local@sha256:abc"}}}}
            """.utf8))
        let listing = SwarmTaskMapping.listing(service, task: chosen)
        #expect(listing.image == "wsscale:local", "the digest swarm may pin is not part of the comparison")
        #expect(listing.publishedPorts == [8088: 30001] && listing.networkAddresses == ["wsscale_net": "10.0.1.5"])
        #expect(ContainerInstanceMapping.instance(listing, configuration: Self.published)
                == DriverInstance(id: "ws-1", status: .running, endpoint: Endpoint(host: "127.0.0.1", port: 30001)))
        #expect(ContainerInstanceMapping.instance(listing, configuration: Self.networked).endpoint == Endpoint(host: "10.0.1.5", port: 8088))
        let inspection = SwarmTaskMapping.inspection(service, task: chosen)
        #expect(ContainerInstanceMapping.endpoint(inspection, configuration: Self.published) == Endpoint(host: "127.0.0.1", port: 30001))
        #expect(inspection.State?.Running == true)
        #expect(SwarmTaskMapping.inspection(service, task: old).State?.Status == "exited")
    }

    @Test("servers on several nodes (a wildcard publish address): a published port is dialled at its task's node")
    func portsAreDialledAtTheirNode() throws {
        let task = try Self.task("running", ports: #"{"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 30001}"#)
        var withNode = try JSONDecoder().decode(SwarmTask.self, from: JSONEncoder().encode(JSONValue.object([
            "ID": .string(task.ID), "ServiceID": .string("s1"), "NodeID": .string("n2"),
            "Status": .object(["State": .string("running"), "PortStatus": .object(["Ports": .array([.object([
                "Protocol": .string("tcp"), "TargetPort": .integer(8088), "PublishedPort": .integer(30001)])])])])])))
        let nodes = try JSONDecoder().decode([SwarmNode].self, from: Data("""
            [{"ID": "n1", "Status": {"Addr": "192.0.2.1"}}, {"ID": "n2", "Status": {"Addr": "192.0.2.2"}}]
            """.utf8))
        #expect(SwarmTaskMapping.nodeAddress(of: withNode, in: nodes) == "192.0.2.2")
        withNode.NodeID = "gone"
        #expect(SwarmTaskMapping.nodeAddress(of: withNode, in: nodes) == nil)
        withNode.NodeID = "n2"
        let service = try JSONDecoder().decode(SwarmService.self, from: Data("""
            {"ID": "s1", "Spec": {"Name": "p1-ws-1", "Labels": {"wsscale.pool": "p1", "wsscale.instance": "ws-1", "wsscale.port": "8088"}}}
            """.utf8))
        let listing = SwarmTaskMapping.listing(service, task: withNode, nodeAddress: "192.0.2.2")
        let everywhere = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1", reachability: .publish(hostAddress: "0.0.0.0"))
        #expect(ContainerInstanceMapping.instance(listing, configuration: everywhere).endpoint == Endpoint(host: "192.0.2.2", port: 30001))
        #expect(ContainerInstanceMapping.instance(listing, configuration: Self.published).endpoint == Endpoint(host: "127.0.0.1", port: 30001),
                "an explicit address is dialled as it is (one node: loopback)")
        let inspection = SwarmTaskMapping.inspection(service, task: withNode, nodeAddress: "192.0.2.2")
        #expect(ContainerInstanceMapping.endpoint(inspection, configuration: everywhere) == Endpoint(host: "192.0.2.2", port: 30001))
    }

    @Test("a task on a node the manager has lost (down, disconnected, or gone from the swarm) has ended, though it still reads running")
    func tasksOnALostNodeHaveEnded() throws {
        var task = try Self.task("running")
        task.NodeID = "n2"
        func nodes(_ state: String) throws -> [SwarmNode] {
            try JSONDecoder().decode([SwarmNode].self, from: Data("""
                [{"ID": "n1", "Status": {"State": "ready", "Addr": "192.0.2.1"}}, {"ID": "n2", "Status": {"State": "\(state)", "Addr": "192.0.2.2"}}]
                """.utf8))
        }
        #expect(SwarmTaskMapping.status(task, nodes: try nodes("ready")) == .running)
        #expect(SwarmTaskMapping.status(task, nodes: try nodes("unknown")) == .running, "a manager that just started has not heard from it yet")
        #expect(SwarmTaskMapping.status(task, nodes: []) == .running, "nodes not read: the task's own state")
        for lost in ["down", "disconnected"] {
            #expect(SwarmTaskMapping.status(task, nodes: try nodes(lost)) == .exited(code: nil), "\(lost)")
            #expect(SwarmEngineAPI.hasEnded(task, nodes: try nodes(lost)), "a stop does not wait for a task on a \(lost) node")
        }
        task.NodeID = "removed"
        #expect(SwarmTaskMapping.status(task, nodes: try nodes("ready")) == .exited(code: nil), "a node no longer in the swarm")
        task.NodeID = nil
        #expect(SwarmTaskMapping.status(task, nodes: try nodes("down")) == .running, "a task on no node yet is not on a lost one")
        task.NodeID = "n2"
        let service = try JSONDecoder().decode(SwarmService.self, from: Data("""
            {"ID": "s1", "Spec": {"Name": "p1-ws-1", "Labels": {"wsscale.pool": "p1", "wsscale.instance": "ws-1", "wsscale.port": "8088"}}}
            """.utf8))
        let inspection = SwarmTaskMapping.inspection(service, task: task, nodes: try nodes("down"))
        #expect(inspection.State?.Status == "exited")
        #expect(inspection.State?.Error == "its node n2 is down")
        #expect(SwarmTaskMapping.listing(service, task: task, nodes: try nodes("down")).status == .exited(code: nil))
    }

    @Test("a task whose IPv4 and IPv6 ports differ names both and is given no port until one is chosen")
    func twoFamiliesTwoPorts() throws {
        let task = try Self.task("running", ports: #"{"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 32911}, {"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 32910}"#)
        #expect(SwarmTaskMapping.publishedPortCandidates(task) == [8088: [32910, 32911]])
        #expect(SwarmTaskMapping.publishedPorts(task) == [:])
        let same = try Self.task("running", ports: #"{"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 32910}, {"Protocol": "tcp", "TargetPort": 8088, "PublishedPort": 32910}"#)
        #expect(SwarmTaskMapping.publishedPorts(same) == [8088: 32910])
    }

    @Test("a daemon that is not a swarm manager is named as such")
    func managerCheck() throws {
        func problem(_ text: String) throws -> String? {
            try JSONDecoder().decode(SwarmDaemonInfo.self, from: Data(text.utf8)).managerProblem
        }
        #expect(try problem(#"{"Swarm": {"LocalNodeState": "active", "ControlAvailable": true}}"#) == nil)
        #expect(try problem(#"{"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false}}"#)?.contains("docker swarm init") == true)
        #expect(try problem(#"{"Swarm": {"LocalNodeState": "active", "ControlAvailable": false}}"#)?.contains("worker") == true)
    }

    @Test("stack names: letters, digits, '_' and '-'")
    func stackNames() {
        #expect(SwarmDriver.stackProblem("wsscale") == nil && SwarmDriver.stackProblem("ws_1-a") == nil && SwarmDriver.stackProblem("") == nil)
        #expect(SwarmDriver.stackProblem("-x") != nil && SwarmDriver.stackProblem("a b") != nil && SwarmDriver.stackProblem(String(repeating: "a", count: 64)) != nil)
    }

    // MARK: - The engine proxy in swarm mode

    static func policy(_ configuration: ContainerDriverConfiguration, stack: String? = "wsscale") -> EngineProxyPolicy {
        var policy = EngineProxyPolicy(configuration: configuration)
        policy.swarm = true
        policy.swarmStack = stack
        return policy
    }

    static func reason(_ decision: EngineProxyDecision) -> String? {
        if case let .refuse(status, reason) = decision, status == 403 { return reason }
        return nil
    }

    @Test(arguments: [published, networked])
    func theProxyLetsTheDriversCallsThrough(configuration: ContainerDriverConfiguration) throws {
        let policy = Self.policy(configuration)
        let body = try JSONEncoder().encode(Self.spec(configuration, stack: "wsscale"))
        let create = policy.decide(EngineProxyRequest(method: "POST", uri: "/v1.41/services/create", body: body))
        guard case let .forward(_, uri, forwarded?) = create else { Issue.record("refused: \(create)"); return }
        #expect(uri == "/v1.41/services/create")
        #expect(try JSONDecoder().decode(JSONValue.self, from: forwarded) == (try JSONDecoder().decode(JSONValue.self, from: body)))
        let filters = ContainerEngineHTTP.filters(["label": ["wsscale.pool=p1"]]).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        for (method, uri) in [("GET", "/v1.41/_ping"), ("GET", "/v1.41/info"), ("GET", "/v1.41/services?filters=\(filters)"),
                              ("GET", "/v1.41/tasks?filters=\(filters)"), ("GET", "/v1.41/services/p1-ws-1"),
                              ("DELETE", "/v1.41/services/p1-ws-1"), ("GET", "/v1.41/events?filters=\(filters)&since=1.0"),
                              ("GET", "/v1.41/nodes")] {
            let decision = policy.decide(EngineProxyRequest(method: method, uri: uri))
            guard case .forward = decision else { Issue.record("\(method) \(uri) refused: \(decision)"); continue }
        }
    }

    @Test("the proxy in swarm mode refuses the join tokens, other pools' services, containers, and unlisted listings")
    func theProxyRefusesTheRest() {
        let policy = Self.policy(Self.published)
        for (method, uri, expected) in [
            ("GET", "/v1.41/swarm", "not a call"), ("GET", "/v1.41/nodes/abc/ps", "not a call"), ("GET", "/v1.41/secrets", "not a call"),
            ("POST", "/v1.41/nodes/abc/update", "not a call"), ("GET", "/v1.41/nodes?filters=%7B%7D", "takes no query"),
            ("POST", "/v1.41/containers/create?name=p1-ws-1", "not a call"), ("GET", "/v1.41/services", "needs filters"),
            ("GET", "/v1.41/tasks", "needs filters"), ("DELETE", "/v1.41/services/other-ws-1", "is not one of the pool's"),
            ("GET", "/v1.41/services/p1-ws-1?insertDefaults=true", "takes no query"),
            ("POST", "/v1.41/services/p1-ws-1/update?version=1", "not a call"),
        ] {
            let reason = Self.reason(policy.decide(EngineProxyRequest(method: method, uri: uri))) ?? "forwarded"
            #expect(reason.contains(expected), "\(method) \(uri): \(reason)")
        }
    }

    @Test(arguments: [
        (#""Mode":{"Global":{}}"#, "Mode must be"),
        (#""Mode":{"Replicated":{"Replicas":5}}"#, "Mode must be"),
        (#""TaskTemplate":{"ContainerSpec":{"Image":"wsscale:local","Mounts":[{"Source":"/","Target":"/host"}]}}"#, "\"Mounts\""),
        (#""TaskTemplate":{"ContainerSpec":{"Image":"evil:latest"}}"#, "Image must be"),
        (#""TaskTemplate":{"ContainerSpec":{"Image":"wsscale:local"},"Placement":{}}"#, "\"Placement\""),
        (#""TaskTemplate":{"ContainerSpec":{"Image":"wsscale:local"},"RestartPolicy":{"Condition":"any"}}"#, "RestartPolicy"),
        (#""TaskTemplate":{"ContainerSpec":{"Image":"wsscale:local"},"Networks":[{"Target":"host"}]}"#, "Networks must be absent"),
        (#""EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8088,"PublishedPort":31000,"PublishMode":"ingress"}]}"#, "EndpointSpec.Ports must be"),
        (#""EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8088,"PublishedPort":22,"PublishMode":"host"}]}"#, "EndpointSpec.Ports must be"),
        (#""EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8088,"PublishMode":"host"}]}"#, "EndpointSpec.Ports must be"),
        (#""EndpointSpec":{"Mode":"dnsrr"}"#, "\"Mode\""),
        (#""Secrets":[]"#, "\"Secrets\""),
    ])
    func theProxyRefusesOtherServices(change: String, expected: String) throws {
        var fields = try #require(try Self.json(Self.spec(Self.published, stack: "wsscale")).object)
        let replacement = try #require(try JSONDecoder().decode(JSONValue.self, from: Data("{\(change)}".utf8)).object)
        for (name, value) in replacement {
            if name == "TaskTemplate", var task = value.object {
                var container = task["ContainerSpec"]?.object ?? [:]
                container["Labels"] = fields["Labels"]
                task["ContainerSpec"] = .object(container)
                fields[name] = .object(task)
            } else {
                fields[name] = value
            }
        }
        let body = try JSONEncoder().encode(JSONValue.object(fields))
        let reason = Self.reason(Self.policy(Self.published).decide(EngineProxyRequest(method: "POST", uri: "/v1.41/services/create", body: body)))
        #expect(reason?.contains(expected) == true, "\(change): \(reason ?? "forwarded")")
    }

    @Test("the stack label must be the configured stack's, or absent when none is configured")
    func theStackLabel() throws {
        let body = try JSONEncoder().encode(Self.spec(Self.published, stack: "other"))
        let reason = Self.reason(Self.policy(Self.published, stack: "wsscale").decide(EngineProxyRequest(method: "POST", uri: "/v1.41/services/create", body: body)))
        #expect(reason?.contains("com.docker.stack.namespace must be \"wsscale\"") == true, "\(reason ?? "forwarded")")
        let none = try JSONEncoder().encode(Self.spec(Self.published, stack: nil))
        guard case .forward = Self.policy(Self.published, stack: nil).decide(EngineProxyRequest(method: "POST", uri: "/v1.41/services/create", body: none)) else {
            Issue.record("a service without a stack is refused"); return
        }
    }
}
