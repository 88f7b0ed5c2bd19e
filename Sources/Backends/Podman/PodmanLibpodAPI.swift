import Foundation
import Logging
import WSScaleCore

/// The libpod API v4 calls the Podman driver makes (paths under `/v4.0.0/libpod`), through
/// the shared `ContainerEngineHTTP` (retries, the service's messages in errors).
struct PodmanLibpodAPI: ContainerEngine {
    let http: ContainerEngineHTTP
    let name = "podman"
    let deathAction = "died"
    let exitCodeAttribute = "containerExitCode"

    init(configuration: ContainerDriverConfiguration, logger: Logger) {
        http = ContainerEngineHTTP(engineName: "podman", daemonName: "podman service", prefix: "/\(configuration.apiVersion)/libpod",
                                   configuration: configuration, logger: logger)
    }

    /// `GET /libpod/_ping`.
    func ping() async throws {
        try await http.send("GET", "/_ping", idempotent: true, expecting: [200])
    }

    /// `POST /libpod/containers/create` with the SpecGenerator body (a missing image is a 500
    /// with podman's message, not retried: creating is not idempotent).
    func create(_ container: ContainerSpecification) async throws -> String {
        try await http.post("/containers/create", json: PodmanContainerSpec(container),
                            expecting: [201], instance: container.name, answer: CreatedContainer.self).Id
    }

    /// `POST /libpod/containers/{id}/start`; an already running container is fine (304).
    func start(_ id: String) async throws {
        try await http.send("POST", "/containers/\(id)/start", idempotent: false, expecting: [204, 304], instance: id)
    }

    /// `POST /libpod/containers/{id}/stop?timeout=…`; stopped (304) or unknown (404) is fine.
    func stop(_ id: String, graceSeconds: Int) async throws {
        try await http.send("POST", "/containers/\(id)/stop", query: ["timeout": String(graceSeconds)],
                            timeout: .seconds(Int64(graceSeconds) + 30), idempotent: true, expecting: [204, 304, 404], instance: id)
    }

    /// `DELETE /libpod/containers/{id}?v=true`; unknown (404) or being removed (409) is fine.
    func remove(_ id: String, force: Bool) async throws {
        try await http.send("DELETE", "/containers/\(id)", query: ["v": "true", "force": force ? "true" : "false"],
                            idempotent: true, expecting: [200, 204, 404, 409], instance: id)
    }

    /// `GET /libpod/containers/json?all=true&filters={"label":[…]}`.
    func list(label: String) async throws -> [ContainerListing] {
        let query = ["all": "true", "filters": ContainerEngineHTTP.filters(["label": [label]])]
        return try await http.get("/containers/json", query: query, answer: [PodmanContainerSummary].self)?.map(\.listing) ?? []
    }

    /// `GET /libpod/containers/{id}/json` (Docker's shape for the fields read); `nil` when unknown.
    func inspect(_ id: String) async throws -> ContainerInspection? {
        try await http.get("/containers/\(id)/json", instance: id, missingIsNil: true, answer: ContainerInspection.self)
    }

    /// `GET /libpod/events?stream=true&filters=…&since=…`.
    func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error> {
        http.stream("/events", filters: filters, since: since, extra: ["stream": "true"])
    }
}
