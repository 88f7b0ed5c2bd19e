import Logging
import Synchronization
import WSScaleCore

/// Ids `ws-1`, `ws-2`, … in order, so tests can name launched instances.
final class SequentialIDs: Sendable {
    private let counter = Mutex(0)

    /// The next id.
    func next() -> InstanceID {
        counter.withLock { value in
            value += 1
            return "ws-\(value)"
        }
    }
}

/// The three fakes around one control loop, sharing one call log.
struct LoopHarness {
    let calls = CallLog()
    let driver: FakeDriver
    let balancer: FakeBalancer
    let registry: FakeRegistry
    let ids = SequentialIDs()

    init() {
        driver = FakeDriver(calls: calls)
        balancer = FakeBalancer(calls: calls)
        registry = FakeRegistry(calls: calls)
    }

    /// A loop over the fakes with fast timings.
    func makeLoop(planner: any ScalePlanner, dryRun: Bool = false,
                  tunables: Autoscaler.Tunables = .fast) -> Autoscaler {
        var configuration = ScalingConfiguration()
        configuration.dryRun = dryRun
        let ids = self.ids
        return Autoscaler(configuration: configuration, driver: driver, loadBalancer: balancer,
                          registry: registry, planner: planner, environment: ["REDIS_URL": "redis://127.0.0.1:1"],
                          makeID: { ids.next() }, tunables: tunables,
                          logger: Logger(label: "autoscaler-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Runs `loop` while `body` runs, then cancels it and waits until it returned.
    func running(_ loop: Autoscaler, _ body: () async throws -> Void) async throws {
        let task = Task { await loop.run() }
        defer { task.cancel() }
        try await body()
        task.cancel()
        await task.value
    }
}

extension Autoscaler.Tunables {
    /// Short timings so tests finish in milliseconds. The launch timeout is far above what a
    /// fake launch takes even on a busy machine; tests of the timeout itself shorten it.
    static let fast = Autoscaler.Tunables(safetyTick: .milliseconds(40), debounce: .milliseconds(5),
                                          launchTimeout: .seconds(5), stopGrace: .zero, decisionCapacity: 100)

    /// `fast` with a 1 s launch timeout, for the tests of the timeout itself.
    static var fastLaunchTimeout: Autoscaler.Tunables {
        var tunables = fast
        tunables.launchTimeout = .seconds(1)
        return tunables
    }
}
