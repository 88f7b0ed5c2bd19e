import Foundation

/// The client simulator's HTTP API on 127.0.0.1, as the Docker stacks' tests drive it.
public struct DockerStackClient: Sendable {
    /// The simulator's API port on 127.0.0.1.
    public var port: Int
    /// The admin token its API asks for.
    public var token: String

    /// Names the simulator by its port and the stack's admin token.
    public init(port: Int, token: String) {
        self.port = port
        self.token = token
    }

    /// Asks it to connect (`connect: true`) or disconnect users; throws unless it answers 202.
    public func batch(connect: Bool, users: [String]) async throws {
        let body = String(decoding: try JSONEncoder().encode(["userIds": users]), as: UTF8.self)
        let response = try await RawHTTPClient.request(
            "POST", "/route/kickstart/ws/batch/\(connect ? "connect" : "disconnect")", port: port,
            headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(token)")], body: body)
        guard response.status == 202 else { throw TestEnvironmentError("client batch: \(response.status) \(response.body)") }
    }

    /// How many of its users are connected (`GET /route/status`).
    public func connectedUsers() async throws -> Int {
        struct Status: Decodable {
            struct Totals: Decodable { var connected: Int }
            var totals: Totals
        }
        let response = try await RawHTTPClient.request("GET", "/route/status", port: port,
                                                       headers: [("Authorization", "Bearer \(token)")])
        return try JSONDecoder().decode(Status.self, from: Data(response.body.utf8)).totals.connected
    }
}
