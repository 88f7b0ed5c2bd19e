import Foundation
import Logging
import WSScaleCore

/// The Engine API 1.41 calls the swarm driver makes, on a swarm manager's dockerd, through the
/// same `ContainerEngineHTTP` as the Docker driver (retries, the daemon's messages in errors):
/// a server is a service with one task, so "create" is `POST /services/create`, "start" is
/// nothing (swarm starts the task), and "stop" removes the service and waits until its task
/// has stopped, on whichever node it ran.
struct SwarmEngineAPI: ContainerEngine {
    let http: ContainerEngineHTTP
    /// The pool label the driver's services carry (`wsscale.pool=<pool>`): the tasks are listed by it.
    let poolLabel: String
    /// The stack the services join (`com.docker.stack.namespace`), if any.
    let stack: String?
    let name = "swarm"
    let deathAction = "die"
    let exitCodeAttribute = "exitCode"
    /// How often a stop looks whether the task is gone.
    static let stopPollInterval: Duration = .milliseconds(100)

    init(configuration: ContainerDriverConfiguration, stack: String?, logger: Logger) {
        http = ContainerEngineHTTP(engineName: "swarm", daemonName: "docker daemon (swarm manager)", prefix: "/\(configuration.apiVersion)",
                                   configuration: configuration, logger: logger)
        poolLabel = "\(ContainerLabel.pool)=\(configuration.pool)"
        self.stack = stack
    }

    /// `GET /_ping`, then `GET /info`: the daemon must be an active swarm manager.
    func ping() async throws {
        try await http.send("GET", "/_ping", idempotent: true, expecting: [200])
        guard let info = try await http.get("/info", answer: SwarmDaemonInfo.self) else { return }
        if let problem = info.managerProblem { throw DriverError(problem) }
    }

    /// `POST /services/create`, with a published port picked at random in
    /// `SwarmServiceSpec.publishedPorts` (a port taken on the node fails the task, and the
    /// balancer launches another server).
    func create(_ container: ContainerSpecification) async throws -> String {
        try await http.post("/services/create", json: SwarmServiceSpec(container, stack: stack,
                                                                         publishedPort: Int.random(in: SwarmServiceSpec.publishedPorts)),
                            expecting: [201], instance: container.name, answer: CreatedService.self).ID
    }

    /// Nothing: swarm starts the service's task itself.
    func start(_ id: String) async throws {}

    /// Removes the service (swarm sends SIGTERM, then SIGKILL after its stop grace period) and
    /// waits until its task is no longer running; an unknown service is fine.
    func stop(_ id: String, graceSeconds: Int) async throws {
        guard let service = try await http.get("/services/\(id)", instance: id, missingIsNil: true, answer: SwarmService.self) else { return }
        try await remove(id, force: false)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(graceSeconds + 30)
        while clock.now < deadline {
            let (tasks, nodes) = (try await tasks(), try await nodes())
            let live = tasks.filter { $0.ServiceID == service.ID && !Self.hasEnded($0, nodes: nodes) }
            if live.isEmpty { return }
            try await Task.sleep(for: Self.stopPollInterval)
        }
        throw DriverError("the service's task did not stop within \(graceSeconds + 30) s of its removal", instance: id)
    }

    /// `DELETE /services/{id}`; an unknown one (404) is fine.
    func remove(_ id: String, force: Bool) async throws {
        try await http.send("DELETE", "/services/\(id)", idempotent: true, expecting: [200, 404], instance: id)
    }

    /// The services with this label, each with its current task.
    func list(label: String) async throws -> [ContainerListing] {
        let query = ["filters": ContainerEngineHTTP.filters(["label": [label]])]
        let services = try await http.get("/services", query: query, answer: [SwarmService].self) ?? []
        guard !services.isEmpty else { return [] }
        let tasks = try await tasks()
        let nodes = try await nodes()
        return services.map { service in
            let task = SwarmTaskMapping.currentTask(of: service.ID, in: tasks)
            return SwarmTaskMapping.listing(service, task: task, nodes: nodes, nodeAddress: SwarmTaskMapping.nodeAddress(of: task, in: nodes))
        }
    }

    /// One service with its current task; `nil` when there is no such service.
    func inspect(_ id: String) async throws -> ContainerInspection? {
        guard let service = try await http.get("/services/\(id)", instance: id, missingIsNil: true, answer: SwarmService.self) else { return nil }
        let task = SwarmTaskMapping.currentTask(of: service.ID, in: try await tasks())
        let nodes = try await nodes()
        return SwarmTaskMapping.inspection(service, task: task, nodes: nodes, nodeAddress: SwarmTaskMapping.nodeAddress(of: task, in: nodes))
    }

    /// `GET /events?filters=…&since=…`, streamed: the task containers' events on this node.
    func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error> {
        http.stream("/events", filters: filters, since: since)
    }

    /// A task container is named `<service>.<slot>.<task id>`.
    func isContainer(named actual: String, of name: String) -> Bool {
        actual.hasPrefix(name + ".")
    }

    /// `GET /tasks?filters={"label":["wsscale.pool=…"]}`: the pool's tasks on every node.
    private func tasks() async throws -> [SwarmTask] {
        try await http.get("/tasks", query: ["filters": ContainerEngineHTTP.filters(["label": [poolLabel]])], answer: [SwarmTask].self) ?? []
    }

    /// `GET /nodes`: where published ports are dialled (a wildcard publish address), and which
    /// nodes the manager has lost (their tasks have ended, though they still read `running`).
    private func nodes() async throws -> [SwarmNode] {
        try await http.get("/nodes", answer: [SwarmNode].self) ?? []
    }

    /// Whether a task has reached a state it never leaves (its node lost, among `nodes`, included).
    static func hasEnded(_ task: SwarmTask, nodes: [SwarmNode] = []) -> Bool {
        if case .exited = SwarmTaskMapping.status(task, nodes: nodes) { return true }
        return false
    }
}

/// `POST /services/create` answer.
struct CreatedService: Decodable {
    var ID: String
    var Warnings: [String]?
}

/// `GET /info`, the swarm part.
struct SwarmDaemonInfo: Decodable {
    struct SwarmInfo: Decodable {
        var LocalNodeState: String?
        var ControlAvailable: Bool?
    }
    var Swarm: SwarmInfo?

    /// Why this daemon cannot run the pool's services, or `nil` when it can.
    var managerProblem: String? {
        guard Swarm?.LocalNodeState == "active" else {
            return "this docker daemon is not in a swarm (state \(Swarm?.LocalNodeState ?? "unknown")): run docker swarm init, or point DOCKER_HOST at a manager"
        }
        guard Swarm?.ControlAvailable == true else {
            return "this docker daemon is a swarm worker, not a manager: point DOCKER_HOST at a manager"
        }
        return nil
    }
}
