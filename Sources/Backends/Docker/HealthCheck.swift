import Logging
import WSScaleCore

/// One `GET /health` against a server instance: 200 or 503 mean it is up (503: up but
/// not ready for more). Uses the curl client over TCP with short limits.
enum HealthCheck {
    /// What one probe found.
    enum Outcome: Equatable {
        case up
        case down(String)
    }

    /// Probes `endpoint` once.
    static func probe(_ endpoint: Endpoint, logger: Logger) async -> Outcome {
        let client = CurlHTTPClient(address: .tcp(host: endpoint.host, port: endpoint.port),
                                    timeout: .seconds(1), connectTimeout: .milliseconds(500), logger: logger)
        do {
            let response = try await client.request("GET", "/health")
            return response.status == 200 || response.status == 503 ? .up : .down("GET /health answered \(response.status)")
        } catch let error as HTTPAPIError {
            return .down(error.message)
        } catch {
            return .down("\(error)")
        }
    }
}
