import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The driver contract (the shared `DriverConformance` suite), checked on the Docker backend
/// against the real daemon, with the image of the Docker tests (`wsscale:local` when it
/// could be built). Each check gets a pool of its own; its containers are removed at the end.
@Suite(.enabled(if: DockerTestEnvironment.isAvailable, "needs a Docker daemon: scripts/setup-docker.sh could not start one"))
struct DockerDriverConformanceTests {
    let suite = DriverConformance(startTimeout: .seconds(30), grace: .seconds(2), exitReportTimeout: .seconds(10)) {
        DockerDriverFixture.make()
    }

    @Test(arguments: DriverConformance.Check.allCases)
    func conforms(_ check: DriverConformance.Check) async throws {
        try await suite.run(check)
    }
}

/// Docker-driver fixtures: a fresh pool label per check, containers published on 127.0.0.1.
enum DockerDriverFixture {
    static let logger = Logger(label: "test.docker-conformance")

    static func make() -> DriverConformance.Fixture {
        let pool = DockerTestPool()
        return .containers(cli: .docker, pool: pool.pool, configuration: pool.configuration()) {
            DockerDriver(configuration: $0, logger: logger)
        }
    }
}
