import Foundation
import Logging
import WSScaleAPI
import WSScaleCore
import WSScaleCurlHTTP

/// The two APIs the dashboard shows and drives: the balancer's (`GET /api/topology`) and the
/// client simulator's (`GET /route/status`, batch connect and disconnect). Every call is
/// bounded by the settings' upstream timeout; a failure is an ``UpstreamFailure`` naming the
/// upstream.
public struct DashboardUpstreams: Sendable {
    private let balancer: CurlHTTPClient
    private let client: CurlHTTPClient

    /// Creates the upstreams of `settings`.
    public init(settings: DashboardSettings, logger: Logger) {
        let connectTimeout = min(settings.upstreamTimeout, .seconds(1))
        balancer = CurlHTTPClient(address: settings.balancerAddress, timeout: settings.upstreamTimeout,
                                  connectTimeout: connectTimeout, logger: logger)
        client = CurlHTTPClient(address: settings.clientAddress, timeout: settings.upstreamTimeout,
                                connectTimeout: connectTimeout, adminToken: settings.adminToken, logger: logger)
    }

    /// The balancer's topology.
    public func topology() async throws -> PoolStatus {
        try await getJSON(PoolStatus.self, "/api/topology", from: balancer, upstream: "balancer")
    }

    /// The client simulator's users.
    public func users() async throws -> ClientStatus {
        try await getJSON(ClientStatus.self, "/route/status", from: client, upstream: "client")
    }

    /// Both at once, put together; an upstream that fails is named in `errors`.
    public func state() async -> DashboardState {
        async let pool = Self.outcome(upstream: "balancer") { try await self.topology() }
        async let clients = Self.outcome(upstream: "client") { try await self.users() }
        let (topology, users) = await (pool, clients)
        return DashboardState.combine(topology: topology.value, users: users.value,
                                      errors: [topology.failure, users.failure].compactMap { $0 })
    }

    /// Asks the client simulator to connect (`verb` `connect`) or disconnect these users.
    /// - Returns: the simulator's answer body (`{"accepted": n, "unchanged": m}`).
    public func batch(_ verb: BatchVerb, userIDs: [String]) async throws -> Data {
        let body = try JSONEncoder().encode(["userIds": userIDs])
        let response = try await call(client, upstream: "client") {
            try await $0.request("POST", "/route/kickstart/ws/batch/\(verb.rawValue)", body: body)
        }
        guard response.status == 202 else {
            throw UpstreamFailure(upstream: "client", message: "batch \(verb.rawValue) answered \(response.status): \(Self.excerpt(response.text))")
        }
        return response.body
    }

    /// The client simulator's two batch operations.
    public enum BatchVerb: String, Sendable {
        /// `POST /route/kickstart/ws/batch/connect`.
        case connect
        /// `POST /route/kickstart/ws/batch/disconnect`.
        case disconnect
    }

    private func getJSON<Value: Decodable>(_ type: Value.Type, _ path: String, from http: CurlHTTPClient,
                                           upstream: String) async throws -> Value {
        let response = try await call(http, upstream: upstream) { try await $0.request("GET", path) }
        guard response.status == 200 else {
            throw UpstreamFailure(upstream: upstream, message: "GET \(path) answered \(response.status): \(Self.excerpt(response.text))")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: response.body)
        } catch {
            throw UpstreamFailure(upstream: upstream, message: "GET \(path): unexpected answer (\(error))")
        }
    }

    private func call(_ http: CurlHTTPClient, upstream: String,
                      _ exchange: (CurlHTTPClient) async throws -> HTTPAPIResponse) async throws -> HTTPAPIResponse {
        do {
            return try await exchange(http)
        } catch {
            throw Self.failure(error, upstream: upstream)
        }
    }

    private static func outcome<Value: Sendable>(upstream: String, _ fetch: @Sendable () async throws -> Value) async
        -> (value: Value?, failure: UpstreamFailure?) {
        do {
            return (try await fetch(), nil)
        } catch {
            return (nil, failure(error, upstream: upstream))
        }
    }

    private static func failure(_ error: any Error, upstream: String) -> UpstreamFailure {
        if let failure = error as? UpstreamFailure { return failure }
        if let failure = error as? HTTPAPIError {
            return UpstreamFailure(upstream: upstream, message: "\(failure.address.httpURL): \(failure.message)")
        }
        return UpstreamFailure(upstream: upstream, message: "\(error)")
    }

    private static func excerpt(_ text: String) -> String {
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}

extension ServiceAddress {
    /// The address as a person types it into a browser (`http://host:port`).
    var httpURL: String {
        switch self {
        case let .tcp(host, port): return host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        case let .unixSocket(path): return "unix://\(path)"
        }
    }
}
