import Logging
import Synchronization
import WSScaleTestSupport
@testable import WSScaleCore

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

/// The three fakes around one control loop, sharing one call log, and the loop's clocks.
///
/// Tests drive the loop step by step: ``step(_:_:)`` is one wake, and the launches and stops
/// it returns run when the test runs them. Time moves only when the test advances ``clock``.
/// The tests of `run()` itself (debounce, wakes, shutdown) run it on the same manual clock.
struct LoopHarness {
    /// The wall-clock time stamped on every decision.
    static let wallTime: Int64 = 1_800_000_000_000

    let calls = CallLog()
    let driver: FakeDriver
    let balancer: FakeTrafficProxy
    let registry: FakeRegistry
    let ids = SequentialIDs()
    let clock = ManualClock()

    init() {
        driver = FakeDriver(calls: calls)
        balancer = FakeTrafficProxy(calls: calls)
        registry = FakeRegistry(calls: calls)
    }

    /// A loop over the fakes (or `driver` in their place) on the manual clock.
    func makeLoop(planner: any ScalePlanner, dryRun: Bool = false, tunables: Autoscaler.Tunables = .test,
                  driver: (any InstanceDriver)? = nil, leadership: Leadership? = nil,
                  trafficProxy: (any TrafficProxy)? = nil) -> Autoscaler {
        var configuration = ScalingConfiguration()
        configuration.dryRun = dryRun
        let ids = self.ids
        return Autoscaler(configuration: configuration, driver: driver ?? self.driver, trafficProxy: trafficProxy ?? balancer,
                          registry: registry, planner: planner, environment: ["REDIS_URL": "redis://127.0.0.1:1"],
                          makeID: { ids.next() }, clock: clock, wallClock: .fixed(Self.wallTime), tunables: tunables,
                          leadership: leadership, logger: Logger(label: "autoscaler-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// One wake of `loop` for `reasons`; returns the launches and stops it started, not run yet.
    func step(_ loop: Autoscaler, _ reasons: Autoscaler.WakeReason...) async -> [Autoscaler.BackgroundJob] {
        await loop.cycle(reasons.isEmpty ? [.tick] : reasons)
    }

    /// Runs background jobs to their end.
    func finish(_ jobs: [Autoscaler.BackgroundJob]) async {
        await withDiscardingTaskGroup { group in
            for job in jobs { group.addTask { await job() } }
        }
    }

    /// Starts background jobs; the task ends when they all have.
    func start(_ jobs: [Autoscaler.BackgroundJob]) -> Task<Void, Never> {
        Task { await finish(jobs) }
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
    /// Timings on the manual clock: they pass only when a test advances it.
    static let test = Autoscaler.Tunables(safetyTick: .seconds(1), debounce: .milliseconds(50),
                                          launchTimeout: .seconds(30), stopGrace: .zero, decisionCapacity: 100)
}
