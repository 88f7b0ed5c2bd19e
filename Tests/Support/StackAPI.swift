import Foundation
import NIOCore
import NIOPosix

/// The HTTP APIs of a running wsscale stack, as a user drives it: the client simulator
/// (`/route/...`), the balancer (`/api/topology`) and each server (`/metrics`).
///
/// Backend-neutral: it knows only ports on one address (127.0.0.1 unless told: a test swarm
/// node's own address), so the same calls drive a stack of child processes (`wsscale up`)
/// or of containers with published ports.
public struct StackAPI: Sendable {
    /// The client simulator's port.
    public var clientPort: Int
    /// The balancer's API port.
    public var balancerPort: Int
    /// How long one request may take.
    public var requestTimeout: Duration
    /// The admin token sent on every request (`Authorization: Bearer`), if any.
    public var adminToken: String?
    /// The address the ports are on.
    public var host = "127.0.0.1"

    /// Names a stack by its ports on 127.0.0.1, or on `host`.
    public init(clientPort: Int, balancerPort: Int, requestTimeout: Duration = .seconds(5),
                adminToken: String? = TestSupport.adminToken, host: String = "127.0.0.1") {
        self.host = host
        self.adminToken = adminToken
        self.clientPort = clientPort
        self.balancerPort = balancerPort
        self.requestTimeout = requestTimeout
    }

    /// `POST /route/kickstart/ws/batch/connect`; throws unless the answer is 202.
    public func connect(_ users: [String]) async throws {
        try await batch("connect", users)
    }

    /// `POST /route/kickstart/ws/batch/disconnect`; throws unless the answer is 202.
    public func disconnect(_ users: [String]) async throws {
        try await batch("disconnect", users)
    }

    /// `GET /route/status` of the client simulator.
    public func clientStatus() async throws -> ClientSnapshot {
        try await getJSON(ClientSnapshot.self, "/route/status", port: clientPort)
    }

    /// `GET /api/topology` of the balancer.
    public func topology() async throws -> TopologySnapshot {
        try await getJSON(TopologySnapshot.self, "/api/topology", port: balancerPort)
    }

    /// A counter or gauge from a server's `GET /metrics` (the sum over its label sets), `nil`
    /// when the server does not report it.
    /// - Parameters:
    ///   - name: e.g. `wsscale_connections_refused_total`.
    ///   - port: the server's port on 127.0.0.1.
    public func serverMetric(_ name: String, port: Int) async throws -> Double? {
        let response = try await send("GET", "/metrics", port: port)
        guard response.status == 200 else { throw StackAPIError("GET /metrics on :\(port) answered \(response.status)") }
        return PrometheusText.value(of: name, in: response.body)
    }

    /// A metric from the balancer's `GET /metrics` (the sum over the label sets that carry
    /// `label`, or over all of them), `nil` when it is not reported.
    public func balancerMetric(_ name: String, label: (name: String, value: String)? = nil) async throws -> Double? {
        let response = try await send("GET", "/metrics", port: balancerPort)
        guard response.status == 200 else { throw StackAPIError("GET /metrics on :\(balancerPort) answered \(response.status)") }
        return PrometheusText.value(of: name, label: label, in: response.body)
    }

    private func batch(_ verb: String, _ users: [String]) async throws {
        let body = try String(decoding: JSONEncoder().encode(["userIds": users]), as: UTF8.self)
        let response = try await send("POST", "/route/kickstart/ws/batch/\(verb)", port: clientPort,
                                      headers: [("Content-Type", "application/json")], body: body)
        guard response.status == 202 else {
            throw StackAPIError("batch \(verb) of \(users.count) users answered \(response.status): \(response.body.prefix(200))")
        }
    }

    private func getJSON<Value: Decodable>(_ type: Value.Type, _ path: String, port: Int) async throws -> Value {
        let response = try await send("GET", path, port: port)
        guard response.status == 200 else { throw StackAPIError("GET \(path) on :\(port) answered \(response.status)") }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(response.body.utf8))
        } catch {
            throw StackAPIError("GET \(path) on :\(port): cannot decode \(Value.self): \(error); body \(response.body.prefix(300))")
        }
    }

    private func send(_ method: String, _ path: String, port: Int, headers: [(String, String)] = [],
                      body: String? = nil) async throws -> RawHTTPClient.Response {
        let timeout = requestTimeout
        let headers = headers + (adminToken.map { [("Authorization", "Bearer \($0)")] } ?? [])
        return try await withThrowingTaskGroup(of: RawHTTPClient.Response?.self) { group in
            group.addTask { [host] in try await RawHTTPClient.request(method, path, host: host, port: port, headers: headers, body: body) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw StackAPIError("\(method) \(path) on :\(port) got no answer within \(timeout)")
            }
            return response
        }
    }
}

/// A stack API call that failed.
public struct StackAPIError: Error, CustomStringConvertible {
    /// What failed.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Reads samples from Prometheus' text format.
public enum PrometheusText {
    /// The sum of every sample of metric `name` (any labels, or those with `label`), `nil` when
    /// there is none.
    public static func value(of name: String, label: (name: String, value: String)? = nil, in text: String) -> Double? {
        var total: Double?
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            let series = parts[0]
            let metric = series.split(separator: "{", maxSplits: 1).first.map(String.init) ?? ""
            guard metric == name, let value = Double(parts[1]) else { continue }
            if let label, !series.contains("\(label.name)=\"\(label.value)\"") { continue }
            total = (total ?? 0) + value
        }
        return total
    }
}
