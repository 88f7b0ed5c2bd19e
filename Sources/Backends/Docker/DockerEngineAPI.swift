import Foundation
import Logging
import WSScaleCore

/// The Engine API calls the Docker driver makes (paths prefixed with the API version),
/// over a `CurlHTTPClient`. Transient failures are retried with backoff; what remains is
/// thrown as `DriverError` carrying the daemon's own message.
struct DockerEngineAPI: Sendable {
    let client: CurlHTTPClient
    let version: String
    let retry: RetryBackoff
    let logger: Logger

    init(configuration: DockerDriverConfiguration, logger: Logger) {
        self.client = CurlHTTPClient(address: configuration.daemon, timeout: .seconds(30), logger: logger)
        self.version = configuration.apiVersion
        self.retry = configuration.retry
        self.logger = logger
    }

    /// `GET /_ping`: the daemon's answer body (`OK`).
    func ping() async throws -> String {
        try await send("GET", "/_ping", idempotent: true, expecting: [200]).text
    }

    /// `POST /containers/create?name=…`; returns the container's id.
    func create(name: String, spec: DockerContainerSpec) async throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = try encoder.encode(spec)
        let response = try await send("POST", "/containers/create", query: ["name": name], body: body,
                                      idempotent: false, expecting: [201], instance: name)
        return try decode(DockerCreatedContainer.self, response, instance: name).Id
    }

    /// `POST /containers/{id}/start`; an already running container is fine (304).
    func start(_ id: String) async throws {
        _ = try await send("POST", "/containers/\(id)/start", idempotent: false, expecting: [204, 304], instance: id)
    }

    /// `POST /containers/{id}/stop?t=…`; stopped (304) or unknown (404) containers are fine.
    func stop(_ id: String, graceSeconds: Int) async throws {
        _ = try await send("POST", "/containers/\(id)/stop", query: ["t": String(graceSeconds)],
                           timeout: .seconds(Int64(graceSeconds) + 30),
                           idempotent: true, expecting: [204, 304, 404], instance: id)
    }

    /// `DELETE /containers/{id}`; unknown (404) or already being removed (409) is fine.
    func remove(_ id: String, force: Bool = false) async throws {
        _ = try await send("DELETE", "/containers/\(id)", query: ["v": "1", "force": force ? "1" : "0"],
                           idempotent: true, expecting: [204, 404, 409], instance: id)
    }

    /// `GET /containers/json?all=1&filters={"label":[…]}`: every container with this label.
    func list(label: String) async throws -> [DockerContainerSummary] {
        let response = try await send("GET", "/containers/json",
                                      query: ["all": "1", "filters": Self.filters(["label": [label]])],
                                      idempotent: true, expecting: [200])
        return try decode([DockerContainerSummary].self, response, instance: nil)
    }

    /// `GET /containers/{id}/json`; `nil` when there is no such container.
    func inspect(_ id: String) async throws -> DockerContainerInspection? {
        let response = try await send("GET", "/containers/\(id)/json", idempotent: true, expecting: [200, 404], instance: id)
        if response.status == 404 { return nil }
        return try decode(DockerContainerInspection.self, response, instance: id)
    }

    /// `GET /events?filters=…&since=…`, streamed (newline-delimited JSON).
    func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error> {
        client.stream("GET", "/\(version)/events", query: ["filters": Self.filters(filters), "since": since])
    }

    /// The `filters` query parameter: JSON of name → values, keys sorted.
    static func filters(_ filters: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(filters)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Sends one call, retrying transient failures: the daemon unreachable (any call
    /// whose request cannot have been sent, every failure of an idempotent call), and
    /// 500/502/503/504 answers to idempotent calls.
    private func send(_ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
                      timeout: Duration? = nil, idempotent: Bool, expecting: Set<Int>,
                      instance: String? = nil) async throws -> HTTPAPIResponse {
        let fullPath = "/\(version)\(path)"
        let response: HTTPAPIResponse
        do {
            response = try await retry.run(isTransient: { error in
                if let error = error as? HTTPAPIError { return !error.cancelled && (error.notSent || idempotent) }
                if let error = error as? TransientStatus { return idempotent && error.response.status >= 500 }
                return false
            }) {
                let response = try await client.request(method, fullPath, query: query, body: body, timeout: timeout)
                if [500, 502, 503, 504].contains(response.status), idempotent { throw TransientStatus(response: response) }
                return response
            }
        } catch let error as HTTPAPIError {
            throw DriverError("docker daemon unreachable at \(client.address): \(error.message)", instance: instance)
        } catch let error as TransientStatus {
            throw Self.daemonError(error.response, method: method, path: path, instance: instance)
        }
        guard expecting.contains(response.status) else {
            throw Self.daemonError(response, method: method, path: path, instance: instance)
        }
        return response
    }

    /// The daemon's message (`{"message": …}`) of an error answer, as a `DriverError`.
    static func daemonError(_ response: HTTPAPIResponse, method: String, path: String, instance: String?) -> DriverError {
        let message = (try? JSONDecoder().decode(DockerErrorBody.self, from: response.body).message)
            ?? response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return DriverError("docker \(method) \(path): HTTP \(response.status): \(message)", instance: instance)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPAPIResponse, instance: String?) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw DriverError("docker answered something unreadable (\(error)): \(response.text.prefix(200))", instance: instance)
        }
    }
}

/// A 5xx answer, kept for the retry decision.
private struct TransientStatus: Error {
    var response: HTTPAPIResponse
}
