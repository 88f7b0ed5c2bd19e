#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The driver contract, checked on the process backend with a stand-in server (Python).
@Suite struct ProcessDriverConformanceTests {
    let suite = DriverConformance(startTimeout: .seconds(10), grace: .seconds(2)) {
        ProcessDriverFixture.make()
    }

    @Test(arguments: DriverConformance.Check.allCases)
    func conforms(_ check: DriverConformance.Check) async throws {
        try await suite.run(check)
    }
}

/// Process-driver fixtures over a fresh temporary state directory.
enum ProcessDriverFixture {
    static let logger = Logger(label: "test.process-driver")

    static func temporaryDirectory() -> String {
        let path = "/tmp/wsscale-test-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func standInConfiguration(stateDirectory: String, pool: String = "test") -> ProcessDriver.Configuration {
        ProcessDriver.Configuration(executable: StandInServer.executable, arguments: StandInServer.arguments,
                                    stateDirectory: stateDirectory, pool: pool)
    }

    static func make() -> DriverConformance.Fixture {
        let state = temporaryDirectory()
        let configuration = standInConfiguration(stateDirectory: state)
        let broken = {
            var broken = configuration
            broken.executable = "/nonexistent/wsscale-missing-binary"
            return broken
        }()
        return DriverConformance.Fixture(
            makeDriver: { try ProcessDriver(configuration: configuration, logger: logger) },
            makeDriverWithBadProgram: { try ProcessDriver(configuration: broken, logger: logger) },
            killFromOutside: { id in
                let directory = ProcessPoolDirectory(stateDirectory: state, pool: configuration.pool)
                guard let record = directory.read(id) else { throw DriverError("no pid file", instance: id) }
                kill(record.pid, SIGKILL)
            },
            cleanUp: { try? FileManager.default.removeItem(atPath: state) })
    }
}
