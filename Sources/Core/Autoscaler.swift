import Logging
import ServiceLifecycle

/// The control loop: watches the pool (driver, proxy, session registry), asks a
/// planner what to do and carries the plan out.
///
/// It wakes on registry events (debounced and coalesced), on instance exits reported by the
/// driver and on a periodic safety tick. Each wake reads the three sides, puts the
/// proxy back in line with what runs (reconciliation), builds a `TopologySnapshot`, asks
/// the planner for a plan and carries it out in order: activate, launch (in the background,
/// added to the proxy once healthy), drain, shed, remove. One wake at a time: two
/// plans never run at once, and launches under way count as `starting` instances.
/// Errors are logged and the next wake tries again; the loop itself never fails.
/// In dry-run (`ScalingConfiguration.dryRun`) it logs and records its decisions and
/// changes nothing; it decides as a real run would, its would-be launches counting as
/// starting and its rebalancing paced (`RebalancePacer`) as if they had been carried out.
///
/// With several balancers on one pool (`Leadership`, `LeaderElection`), only the one that
/// leads acts: a standby reads the pool at each wake and keeps its view and `status()` up to
/// date, but handles no exit, corrects nothing and plans nothing. It wakes the moment it
/// starts leading, and adopts the pool as it finds it (reconciliation).
public actor Autoscaler: Service {
    /// Timings and sizes of the loop itself (the scaling knobs are in `ScalingConfiguration`).
    public struct Tunables: Sendable, Equatable {
        /// The longest time between two wakes, whatever happens.
        public var safetyTick: Duration
        /// The longest time between two wakes while every server in rotation is at its
        /// connection limit: a user who arrives then waits in the proxy's queue, which
        /// raises no event, so the loop looks for it this often.
        public var fullPoolTick: Duration
        /// How long registry events are gathered before the loop acts on them.
        public var debounce: Duration
        /// How long a launch may take until its server answers `/health`.
        public var launchTimeout: Duration
        /// Time a stopped server has between SIGTERM and SIGKILL.
        public var stopGrace: Duration
        /// How many decisions `status()` keeps.
        public var decisionCapacity: Int
        /// How long a running server the session registry does not list counts as "sessions
        /// unknown" (no rebalance, scale-in or removal on its count) before it counts as
        /// holding none. Covers a registry that lost its data while the servers write theirs
        /// again (they reconnect with backoff of at most a few seconds).
        public var registryGrace: Duration
        /// How long the loop may go without reading the pool whole before it counts as
        /// stalled (`PoolStatus.stalled`, `/health` 503); a reading that took longer than this
        /// is not decided on.
        public var stallLimit: Duration

        /// Creates tunables; the defaults suit production.
        public init(safetyTick: Duration = .seconds(1), fullPoolTick: Duration = .milliseconds(100),
                    debounce: Duration = .milliseconds(50),
                    launchTimeout: Duration = .seconds(30), stopGrace: Duration = .seconds(10),
                    decisionCapacity: Int = 100, registryGrace: Duration = .seconds(10),
                    stallLimit: Duration = .seconds(15)) {
            self.safetyTick = safetyTick
            self.fullPoolTick = fullPoolTick
            self.debounce = debounce
            self.launchTimeout = launchTimeout
            self.stopGrace = stopGrace
            self.decisionCapacity = decisionCapacity
            self.registryGrace = registryGrace
            self.stallLimit = stallLimit
        }
    }

    /// Why the loop woke.
    enum WakeReason: Sendable {
        case startup
        case tick
        case registry(RegistryEvent)
        case exit(InstanceExit)
        case launchFinished(InstanceID)
        case leadershipChanged
    }

    /// Work that runs beside the loop (launches, stops) so it never stalls a later wake.
    typealias BackgroundJob = @Sendable () async -> Void

    let configuration: ScalingConfiguration
    let driver: any InstanceDriver
    let trafficProxy: any TrafficProxy
    let registry: any SessionRegistry
    let environment: [String: String]
    let makeID: @Sendable () -> InstanceID
    let tunables: Tunables
    let clock: LoopClock
    let wallClock: WallClock
    let logger: Logger
    var planner: any ScalePlanner
    /// Whether this balancer may act (always, when it runs alone).
    let leadership: Leadership
    /// The pace of rebalancing: the loop's, since only the loop knows what it carried out.
    var rebalancePacer: RebalancePacer

    var pool = PoolState()
    var decisionLog: DecisionLog
    var lastInstances: [InstanceStatus] = []
    var lastDriverIDs: Set<InstanceID> = []
    var observedAt: Int64?
    /// When the loop last read the pool whole, on its clock (`nil`: not yet).
    var lastObservationTime: Duration?
    var lastError: String?
    var lastDryRunCorrections: [ReconcileAction] = []
    /// The per-server connection limit last decided (`ServerConnectionLimit`); servers added
    /// to the proxy get it before they go into rotation.
    var serverConnectionLimit: Int?
    /// The proxy's queue and its connections to the pool at the last wake.
    var lastQueued = 0
    var lastProxyConnections = 0
    /// The proxy instances as the last reading found them (several HAProxy instances).
    var lastProxyMembers: [ProxyMemberStatus] = []
    /// Whether, at the last wake, users waited in the proxy's queue or every server
    /// in rotation was at its connection limit (the next arrival would wait unseen).
    var poolIsFull = false
    /// Dry-run: the launches it would have under way (never started).
    var pretendLaunches: Set<InstanceID> = []

    /// Wakes asked for and not yet acted on.
    private(set) var pendingWakes: [WakeReason] = []
    private let doorbell: AsyncStream<Void>
    private let doorbellContinuation: AsyncStream<Void>.Continuation

    /// Creates the control loop; it does nothing until `run()`.
    /// - Parameters:
    ///   - configuration: the scaling knobs; `dryRun` makes the loop log without acting.
    ///   - driver: the backend that launches and stops servers.
    ///   - trafficProxy: the proxy in front of the servers.
    ///   - registry: the session registry the servers write to.
    ///   - planner: the decision rules (`ScalingPolicy` in wsscale).
    ///   - environment: environment given to every launched server (Redis address, knobs).
    ///   - makeID: makes a new instance id; the loop retries when it returns one in use.
    ///   - clock: the clock for ticks, timeouts and the planner's `now`.
    ///   - wallClock: the time stamped on decisions and observations.
    ///   - tunables: the loop's own timings.
    ///   - leadership: whether this balancer leads the pool; `nil`: it runs alone and always
    ///     leads. The driver, proxy and registry given should then be fenced with it
    ///     (`FencedInstanceDriver` …), so that a change already under way stops too.
    ///   - logger: where decisions and errors go.
    public init<C: Clock>(
        configuration: ScalingConfiguration,
        driver: any InstanceDriver,
        trafficProxy: any TrafficProxy,
        registry: any SessionRegistry,
        planner: any ScalePlanner,
        environment: [String: String] = [:],
        makeID: @escaping @Sendable () -> InstanceID = InstanceIDGenerator.randomHex,
        clock: C = ContinuousClock(),
        wallClock: WallClock = .system,
        tunables: Tunables = Tunables(),
        leadership: Leadership? = nil,
        logger: Logger
    ) where C.Duration == Duration {
        self.configuration = configuration
        self.driver = driver
        self.trafficProxy = trafficProxy
        self.registry = registry
        self.planner = planner
        self.leadership = leadership ?? .alone(clock: clock)
        self.rebalancePacer = RebalancePacer(movesPerSecond: configuration.rebalanceMovesPerSecond)
        self.environment = environment
        self.makeID = makeID
        self.clock = LoopClock(clock)
        self.wallClock = wallClock
        self.tunables = tunables
        var logger = logger
        logger[metadataKey: "driver"] = .string(driver.name)
        self.logger = logger
        self.decisionLog = DecisionLog(capacity: tunables.decisionCapacity)
        (doorbell, doorbellContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Runs the loop until the task is cancelled or a graceful shutdown is triggered.
    /// Launches under way are cancelled on return; running servers are left running.
    public func run() async {
        logger.info("control loop started", metadata: [
            "dryRun": "\(configuration.dryRun)", "safetyTick": "\(tunables.safetyTick)",
            "debounce": "\(tunables.debounce)",
        ])
        enqueue(.startup)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.forwardRegistryEvents() }
            group.addTask { await self.forwardExits() }
            group.addTask { await self.tick() }
            group.addTask { await self.forwardLeadershipChanges() }
            for await _ in doorbell.cancelOnGracefulShutdown() {
                // A ring can outlive the wakes it announced (they were taken by an earlier cycle).
                guard !pendingWakes.isEmpty else { continue }
                if pendingWakes.allSatisfy(\.isRegistryEvent) {
                    try? await clock.sleep(tunables.debounce)
                }
                let reasons = pendingWakes
                pendingWakes.removeAll()
                for job in await cycle(reasons) {
                    group.addTask { await job() }
                }
            }
            group.cancelAll()
        }
        logger.info("control loop stopped")
    }

    /// What the pool looks like at the last wake, with the last decisions.
    public func status() -> PoolStatus {
        let total = lastInstances.map(\.sessions).saturatingSum()
        let sinceObservation = clock.now() - (lastObservationTime ?? .zero)
        let serving = lastInstances.filter { $0.state == .active || $0.state == .starting }.count
        return PoolStatus(
            driver: driver.name, dryRun: configuration.dryRun,
            connectionLimitPerHost: configuration.connectionLimitPerHost,
            instances: lastInstances, totalSessions: total,
            utilizationPercent: PoolStatus.utilizationPercent(
                sessions: max(total, lastProxyConnections).saturatingAdding(lastQueued), hosts: serving,
                limit: configuration.connectionLimitPerHost),
            queued: lastQueued, serverConnectionLimit: serverConnectionLimit,
            decisions: decisionLog.decisions, observedAt: observedAt, lastError: lastError,
            secondsSinceObservation: sinceObservation.secondsValue, stalled: sinceObservation > tunables.stallLimit,
            leadership: LeadershipStatus(holder: leadership.holder, leading: leadership.mayAct() != nil,
                                         leader: leadership.lastSeen),
            proxies: lastProxyMembers)
    }

    /// Asks for a wake: the loop reads the pool and plans.
    func enqueue(_ reason: WakeReason) {
        pendingWakes.append(reason)
        doorbellContinuation.yield()
    }

    private func forwardRegistryEvents() async {
        for await event in registry.events() {
            enqueue(.registry(event))
        }
    }

    private func forwardExits() async {
        for await exit in driver.exits() {
            enqueue(.exit(exit))
        }
    }

    private func forwardLeadershipChanges() async {
        for await _ in leadership.changed {
            enqueue(.leadershipChanged)
        }
    }

    private func tick() async {
        while true {
            do {
                try await clock.sleep(poolIsFull ? min(tunables.fullPoolTick, tunables.safetyTick) : tunables.safetyTick)
            } catch {
                return
            }
            enqueue(.tick)
        }
    }

    /// Wall-clock time in milliseconds since 1970, for decisions.
    nonisolated var wallClockMilliseconds: Int64 { wallClock.milliseconds() }
}

extension Autoscaler.WakeReason {
    /// True for registry events, which are debounced.
    var isRegistryEvent: Bool {
        if case .registry = self { true } else { false }
    }
}
