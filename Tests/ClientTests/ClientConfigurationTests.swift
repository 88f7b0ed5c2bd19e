import Testing
import WSScaleCore
@testable import WSScaleClient

@Suite("Client configuration from the environment")
struct ClientConfigurationTests {
    @Test("defaults: port 8089 on 0.0.0.0, target ws://127.0.0.1:8000, backoff 100 ms / 5 s, unbounded")
    func defaults() throws {
        let configuration = try ClientConfiguration.read(environment: [:])
        #expect(configuration == ClientConfiguration())
        #expect(configuration.port == 8089)
        #expect(configuration.listenHost == "127.0.0.1")
        #expect(configuration.target == WebSocketTarget(host: "127.0.0.1", port: 8000))
        #expect(configuration.backoff == BackoffPolicy(base: .milliseconds(100), cap: .seconds(5), maxAttempts: nil))
        #expect(configuration.connectConcurrency == 64)
        #expect(configuration.liveness == ConnectionLiveness(pingInterval: .seconds(30), silenceTimeout: .seconds(75)))
    }

    @Test("liveness: CLIENT_PING_INTERVAL_SECONDS and CLIENT_SILENCE_TIMEOUT_SECONDS; a ping interval of 0 turns it off")
    func liveness() throws {
        let configured = try ClientConfiguration.read(environment: ["CLIENT_PING_INTERVAL_SECONDS": "2", "CLIENT_SILENCE_TIMEOUT_SECONDS": "5.5"])
        #expect(configured.liveness == ConnectionLiveness(pingInterval: .seconds(2), silenceTimeout: .milliseconds(5500)))
        #expect(try ClientConfiguration.read(environment: ["CLIENT_PING_INTERVAL_SECONDS": "0"]).liveness == nil)
    }

    @Test("every variable is read; the environment wins over .env")
    func readsVariables() throws {
        let configuration = try ClientConfiguration.read(environment: [
            "CLIENT_PORT": "9100", "CLIENT_HOST": "127.0.0.1", "CLIENT_TARGET_URL": "ws://localhost:18000/",
            "CLIENT_BACKOFF_BASE_MS": "20", "CLIENT_BACKOFF_MAX_ATTEMPTS": "7", "CLIENT_CONNECT_CONCURRENCY": "8",
        ], dotEnv: "CLIENT_PORT=1\nCLIENT_BACKOFF_CAP_MS=900\n")
        #expect(configuration.port == 9100)
        #expect(configuration.listenHost == "127.0.0.1")
        #expect(configuration.target == WebSocketTarget(host: "localhost", port: 18000))
        #expect(configuration.backoff == BackoffPolicy(base: .milliseconds(20), cap: .milliseconds(900), maxAttempts: 7))
        #expect(configuration.connectConcurrency == 8)
    }

    @Test("bad values name their variable", arguments: [
        ("CLIENT_PORT", "eighty"), ("CLIENT_PORT", "70000"), ("CLIENT_PORT", "-1"),
        ("CLIENT_TARGET_URL", "http://127.0.0.1:8000"), ("CLIENT_TARGET_URL", "wss://127.0.0.1:8000"),
        ("CLIENT_TARGET_URL", "127.0.0.1:8000"), ("CLIENT_TARGET_URL", "ws://127.0.0.1:8000/api"),
        ("CLIENT_TARGET_URL", "ws://127.0.0.1:99999"),
        ("CLIENT_BACKOFF_BASE_MS", "0"), ("CLIENT_BACKOFF_BASE_MS", "fast"), ("CLIENT_BACKOFF_CAP_MS", "50"),
        ("CLIENT_BACKOFF_MAX_ATTEMPTS", "-3"), ("CLIENT_CONNECT_CONCURRENCY", "0"),
        ("CLIENT_PING_INTERVAL_SECONDS", "-1"), ("CLIENT_PING_INTERVAL_SECONDS", "often"),
        ("CLIENT_SILENCE_TIMEOUT_SECONDS", "30"), ("CLIENT_SILENCE_TIMEOUT_SECONDS", "0"),
    ])
    func badValues(variable: String, value: String) {
        #expect {
            try ClientConfiguration.read(environment: [variable: value])
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.issues.map(\.variable) == [variable]
        }
    }
}
