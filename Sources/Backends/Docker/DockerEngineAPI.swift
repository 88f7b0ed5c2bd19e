import Foundation
import Logging
import WSScaleCore

/// The Engine API 1.41 calls the Docker driver makes (paths under `/v1.41`), through the
/// shared `ContainerEngineHTTP` (retries, the daemon's messages in errors).
struct DockerEngineAPI: ContainerEngine {
    let http: ContainerEngineHTTP
    let name = "docker"
    let deathAction = "die"
    let exitCodeAttribute = "exitCode"

    init(configuration: ContainerDriverConfiguration, logger: Logger) {
        http = ContainerEngineHTTP(engineName: "docker", daemonName: "docker daemon", prefix: "/\(configuration.apiVersion)", configuration: configuration, logger: logger)
    }

    /// `GET /_ping`.
    func ping() async throws {
        try await http.send("GET", "/_ping", idempotent: true, expecting: [200])
    }

    /// `POST /containers/create?name=…`.
    func create(_ container: ContainerSpecification) async throws -> String {
        try await http.post("/containers/create", query: ["name": container.name], json: DockerContainerSpec(container),
                            expecting: [201], instance: container.name, answer: CreatedContainer.self).Id
    }

    /// `POST /containers/{id}/start`; an already running container is fine (304).
    func start(_ id: String) async throws {
        try await http.send("POST", "/containers/\(id)/start", idempotent: false, expecting: [204, 304], instance: id)
    }

    /// `POST /containers/{id}/stop?t=…`; stopped (304) or unknown (404) containers are fine.
    func stop(_ id: String, graceSeconds: Int) async throws {
        try await http.send("POST", "/containers/\(id)/stop", query: ["t": String(graceSeconds)],
                            timeout: .seconds(Int64(graceSeconds) + 30), idempotent: true, expecting: [204, 304, 404], instance: id)
    }

    /// `DELETE /containers/{id}`; unknown (404) or already being removed (409) is fine.
    func remove(_ id: String, force: Bool) async throws {
        try await http.send("DELETE", "/containers/\(id)", query: ["v": "1", "force": force ? "1" : "0"],
                            idempotent: true, expecting: [204, 404, 409], instance: id)
    }

    /// `GET /containers/json?all=1&filters={"label":[…]}`.
    func list(label: String) async throws -> [ContainerListing] {
        let query = ["all": "1", "filters": ContainerEngineHTTP.filters(["label": [label]])]
        return try await http.get("/containers/json", query: query, answer: [DockerContainerSummary].self)?.map(\.listing) ?? []
    }

    /// `GET /containers/{id}/json`; `nil` when there is no such container.
    func inspect(_ id: String) async throws -> ContainerInspection? {
        try await http.get("/containers/\(id)/json", instance: id, missingIsNil: true, answer: ContainerInspection.self)
    }

    /// `GET /events?filters=…&since=…`, streamed.
    func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error> {
        http.stream("/events", filters: filters, since: since)
    }
}
