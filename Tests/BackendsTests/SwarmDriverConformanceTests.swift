import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The driver contract (the shared `DriverConformance` suite), checked on the swarm backend
/// against a real single-node swarm (`SwarmTestEnvironment`) with the image of the Docker
/// tests. Each check gets a pool of its own; its services are removed at the end. A crash is
/// `docker kill` of the server's task container.
@Suite(.enabled(if: SwarmTestEnvironment.isAvailable, "needs a swarm manager: docker swarm init failed"))
struct SwarmDriverConformanceTests {
    let suite = DriverConformance(startTimeout: .seconds(60), grace: .seconds(2), exitReportTimeout: .seconds(15)) {
        SwarmDriverFixture.make()
    }

    @Test(arguments: DriverConformance.Check.allCases)
    func conforms(_ check: DriverConformance.Check) async throws {
        try await suite.run(check)
    }
}

/// Swarm-driver fixtures: a fresh pool label per check, task ports published in host mode
/// and reached on 127.0.0.1.
enum SwarmDriverFixture {
    static let logger = Logger(label: "test.swarm-conformance")

    static func make() -> DriverConformance.Fixture {
        let pool = DockerTestPool()
        let configuration = pool.configuration()
        let missingImage = {
            var missing = configuration
            missing.image = "wsscale-no-such-image:0"
            return missing
        }()
        return DriverConformance.Fixture(
            makeDriver: { SwarmDriver(configuration: configuration, logger: logger) },
            makeDriverWithBadProgram: { SwarmDriver(configuration: missingImage, logger: logger) },
            killFromOutside: { id in
                let service = configuration.containerName(id)
                guard let container = SwarmTestEnvironment.taskContainer(ofService: service) else {
                    throw DriverError("no running task container of \(service)", instance: id)
                }
                let killed = DockerTestEnvironment.docker("kill", container)
                guard killed.status == 0 else { throw DriverError("docker kill failed: \(killed.output)", instance: id) }
            },
            cleanUp: { SwarmTestEnvironment.removeServices(ofPool: pool.pool) })
    }
}
