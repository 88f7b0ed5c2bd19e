import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing
@testable import WSScaleBackends
import WSScaleCore

/// `ContainerDriver.launch` when the engine's start fails: pure, over a scripted engine (the
/// port race itself cannot be provoked on demand against a real engine).
@Suite struct ContainerDriverPortRaceTests {
    /// An engine whose `start` fails with the scripted errors, then succeeds; it records calls.
    final class ScriptedEngine: ContainerEngine, @unchecked Sendable {
        let name = "scripted"
        let deathAction = "die"
        let exitCodeAttribute = "exitCode"
        private let state: NIOLockedValueBox<(startErrors: [String], calls: [String])>

        init(startErrors: [String]) {
            state = NIOLockedValueBox((startErrors, []))
        }

        var calls: [String] { state.withLockedValue { $0.calls } }

        func ping() async throws {}
        func create(_ container: ContainerSpecification) async throws -> String {
            state.withLockedValue { $0.calls.append("create") }
            return "id"
        }
        func start(_ id: String) async throws {
            let failure: String? = state.withLockedValue { state in
                state.calls.append("start")
                return state.startErrors.isEmpty ? nil : state.startErrors.removeFirst()
            }
            if let failure { throw DriverError(failure, instance: id) }
        }
        func stop(_ id: String, graceSeconds: Int) async throws {}
        func remove(_ id: String, force: Bool) async throws {
            state.withLockedValue { $0.calls.append("remove") }
        }
        func list(label: String) async throws -> [ContainerListing] { [] }
        func inspect(_ id: String) async throws -> ContainerInspection? { nil }
        func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error> {
            AsyncThrowingStream { $0.finish() }
        }
    }

    static let taken = "HTTP 500: cannot listen on the TCP port: listen tcp4 127.0.0.1:46393: bind: address already in use"

    func driver(_ engine: ScriptedEngine) -> ContainerDriver {
        ContainerDriver(configuration: ContainerDriverConfiguration(engine: .podman, image: "wsscale:local"),
                        engine: engine, probe: HTTPHealthProbe(), logger: Logger(label: "test.port-race"))
    }

    @Test("a published port taken before the start: the container is removed and created again")
    func createsAgainWhenThePortWasTaken() async throws {
        let engine = ScriptedEngine(startErrors: [Self.taken])
        let instance = try await driver(engine).launch(LaunchRequest(id: "ws-1"))
        #expect(instance.id == "ws-1")
        #expect(engine.calls == ["create", "start", "remove", "create", "start"])
    }

    @Test("at most three containers; other start failures are not retried")
    func givesUp() async throws {
        let unlucky = ScriptedEngine(startErrors: [Self.taken, Self.taken, Self.taken])
        await #expect(throws: DriverError.self) { _ = try await driver(unlucky).launch(LaunchRequest(id: "ws-1")) }
        #expect(unlucky.calls == ["create", "start", "remove", "create", "start", "remove", "create", "start", "remove"])

        let broken = ScriptedEngine(startErrors: ["HTTP 500: no such image"])
        await #expect(throws: DriverError.self) { _ = try await driver(broken).launch(LaunchRequest(id: "ws-1")) }
        #expect(broken.calls == ["create", "start", "remove"])
    }
}
