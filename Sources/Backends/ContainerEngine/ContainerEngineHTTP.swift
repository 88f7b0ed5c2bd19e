import Foundation
import Logging
import WSScaleCore
import WSScaleCurlHTTP

/// The calls to a container engine's HTTP API (paths under a prefix such as `/v1.41` or
/// `/v4.0.0/libpod`), over a `CurlHTTPClient`. Transient failures are retried with backoff;
/// what remains is thrown as `DriverError` carrying the engine's own message
/// (`{"message": …}`, which Docker and Podman both send).
struct ContainerEngineHTTP: Sendable {
    /// The engine's name in messages (`docker`, `podman`).
    let engineName: String
    /// What answers on the engine's socket, in messages (`docker daemon`, `podman service`).
    let daemonName: String
    let client: CurlHTTPClient
    /// What every path starts with (`/v1.41`, `/v4.0.0/libpod`).
    let prefix: String
    let retry: RetryBackoff

    /// Creates the client of one engine.
    /// - Parameters:
    ///   - engineName: named in errors.
    ///   - daemonName: named when nothing answers.
    ///   - prefix: the paths' common start.
    ///   - configuration: the engine's address and retry schedule.
    ///   - logger: where exchanges are logged.
    init(engineName: String, daemonName: String, prefix: String, configuration: ContainerDriverConfiguration, logger: Logger) {
        self.engineName = engineName
        self.daemonName = daemonName
        self.client = CurlHTTPClient(address: configuration.daemon, timeout: .seconds(30), logger: logger)
        self.prefix = prefix
        self.retry = configuration.retry
    }

    /// Sends a JSON body (`POST …/create`) and decodes the answer.
    func post<Body: Encodable, Answer: Decodable>(_ path: String, query: [String: String] = [:], json: Body,
                                                   expecting: Set<Int>, instance: String?, answer: Answer.Type) async throws -> Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let response = try await send("POST", path, query: query, body: try encoder.encode(json),
                                      idempotent: false, expecting: expecting, instance: instance)
        return try decode(answer, response, instance: instance)
    }

    /// `GET path`, decoded; `nil` on 404 when `missingIsNil`.
    func get<Answer: Decodable>(_ path: String, query: [String: String] = [:], instance: String? = nil,
                                missingIsNil: Bool = false, answer: Answer.Type) async throws -> Answer? {
        let response = try await send("GET", path, query: query, idempotent: true,
                                      expecting: missingIsNil ? [200, 404] : [200], instance: instance)
        if response.status == 404 { return nil }
        return try decode(answer, response, instance: instance)
    }

    /// The event stream at `path`, newline-delimited JSON.
    func stream(_ path: String, filters: [String: [String]], since: String, extra: [String: String] = [:]) -> AsyncThrowingStream<Data, Error> {
        client.stream("GET", prefix + path, query: extra.merging(["filters": Self.filters(filters), "since": since]) { _, new in new })
    }

    /// The `filters` query parameter: JSON of name → values, keys sorted.
    static func filters(_ filters: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(filters)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Sends one call, retrying transient failures: the engine unreachable (any call
    /// whose request cannot have been sent, every failure of an idempotent call), and
    /// 500/502/503/504 answers to idempotent calls.
    @discardableResult
    func send(_ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
              timeout: Duration? = nil, idempotent: Bool, expecting: Set<Int>,
              instance: String? = nil) async throws -> HTTPAPIResponse {
        let fullPath = prefix + path
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
            throw DriverError("\(daemonName) unreachable at \(client.address): \(error.message)", instance: instance)
        } catch let error as TransientStatus {
            throw engineError(error.response, method: method, path: path, instance: instance)
        }
        guard expecting.contains(response.status) else {
            throw engineError(response, method: method, path: path, instance: instance)
        }
        return response
    }

    /// The engine's message (`{"message": …}`) of an error answer, as a `DriverError`.
    func engineError(_ response: HTTPAPIResponse, method: String, path: String, instance: String?) -> DriverError {
        let message = (try? JSONDecoder().decode(EngineErrorBody.self, from: response.body).message)
            ?? response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return DriverError("\(engineName) \(method) \(path): HTTP \(response.status): \(message)", instance: instance)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPAPIResponse, instance: String?) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw DriverError("\(engineName) answered something unreadable (\(error)): \(response.text.prefix(200))", instance: instance)
        }
    }
}

/// An engine's error body: `{"message": "..."}` (Podman adds `cause` and `response`).
struct EngineErrorBody: Decodable {
    var message: String
}

/// `POST …/containers/create` answer, the same for both engines.
struct CreatedContainer: Decodable {
    var Id: String
    var Warnings: [String]?
}

/// A 5xx answer, kept for the retry decision.
private struct TransientStatus: Error {
    var response: HTTPAPIResponse
}
