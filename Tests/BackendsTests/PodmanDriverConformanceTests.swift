import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleCurlHTTP
import WSScaleTestSupport

/// The driver contract (the shared `DriverConformance` suite), checked on the Podman backend
/// against the real `podman system service` with `localhost/wsscale:local`. Each check gets
/// a pool of its own; its containers are removed at the end.
@Suite(.enabled(if: PodmanTestEnvironment.isAvailable, "needs podman's REST API and the image (a SKIPPING line says why)"))
struct PodmanDriverConformanceTests {
    let suite = DriverConformance(startTimeout: .seconds(30), grace: .seconds(2), exitReportTimeout: .seconds(10)) {
        PodmanDriverFixture.make()
    }

    @Test(arguments: DriverConformance.Check.allCases)
    func conforms(_ check: DriverConformance.Check) async throws {
        try await suite.run(check)
    }
}

/// Podman-driver fixtures: a fresh pool label per check, containers published on 127.0.0.1.
enum PodmanDriverFixture {
    static let logger = Logger(label: "test.podman-conformance")

    static func make() -> DriverConformance.Fixture {
        let pool = "test-\(UInt32.random(in: 0...UInt32.max))"
        let configuration = ContainerDriverConfiguration(
            engine: .podman, image: PodmanTestEnvironment.testImage, pool: pool, daemon: PodmanTestEnvironment.address,
            stopGrace: .seconds(2), environment: ["REDIS_URL": "redis://127.0.0.1:6379"],
            retry: RetryBackoff(attempts: 2, initialDelay: .milliseconds(50)))
        return .containers(cli: .podman, pool: pool, configuration: configuration) {
            PodmanDriver(configuration: $0, logger: logger)
        }
    }
}
