import Logging

extension Autoscaler {
    /// One wake: handles exits, reads the pool, reconciles, plans and carries the plan out.
    /// - Returns: launches and stops to run beside the loop.
    func cycle(_ reasons: [WakeReason]) async -> [BackgroundJob] {
        var jobs: [BackgroundJob] = []
        let leading = leadership.mayAct() != nil
        if leading {
            for case let .exit(exit) in reasons {
                jobs += await handleExit(exit)
            }
        }
        let startedAt = clock.now()
        let observation: PoolObservation
        do {
            async let instances = driver.instances()
            async let reading = trafficProxy.read()
            async let hosts = registry.topology()
            let proxy = try await reading
            lastProxyMembers = proxy.members
            observation = PoolObservation(driver: try await instances, proxy: proxy.servers, queued: proxy.queued,
                                          registry: try await hosts, startedAt: startedAt)
        } catch {
            lastError = "reading the pool failed: \(error)"
            logger.warning("reading the pool failed; trying again at the next wake", metadata: ["error": "\(error)"])
            return jobs
        }
        let readingTook = clock.now() - startedAt
        guard readingTook <= tunables.stallLimit else {
            lastError = "reading the pool took \(readingTook.secondsText) s, more than the stall limit (\(tunables.stallLimit.secondsText) s): nothing decided on data that old"
            logger.warning("reading the pool took longer than the stall limit; not deciding on it", metadata: ["took": "\(readingTook)"])
            return jobs
        }
        lastError = nil
        observedAt = wallClockMilliseconds
        lastObservationTime = clock.now()
        lastDriverIDs = Set(observation.driver.map(\.id))
        let now = clock.now()
        let reconciliation = pool.reconcile(with: observation, now: now, launchTimeout: tunables.launchTimeout,
                                            registryGrace: tunables.registryGrace,
                                            connectionLimit: configuration.connectionLimitPerHost)
        lastInstances = reconciliation.instances
        lastQueued = reconciliation.snapshot.queued
        lastProxyConnections = reconciliation.snapshot.proxyConnections
        guard leading else {
            // A standby keeps its view (status, the bookkeeping it will lead from) and acts on nothing.
            logger.trace("standing by", metadata: ["leader": "\(leadership.lastSeen?.holder ?? "none")"])
            return jobs
        }
        let actions = configuration.dryRun ? settlePretendLaunches(reconciliation.actions) : reconciliation.actions
        jobs += await correct(actions)

        let plan = planner.plan(for: reconciliation.snapshot, now: now,
                                rebalanceAllowance: rebalancePacer.allowance(for: reconciliation.snapshot, now: now))
        await limitConnections(ServerConnectionLimit.perServer(reconciliation.snapshot, launching: plan.launch,
                                                               previous: serverConnectionLimit, configuration: configuration),
                               servers: observation.proxy)
        guard !plan.isEmpty else {
            logger.trace("nothing to do", metadata: ["instances": "\(reconciliation.snapshot.instances.count)"])
            return jobs
        }
        jobs += await carryOut(plan)
        return jobs
    }

    /// Adds a server to the proxy (in maintenance) with the current connection limit.
    func addToProxy(_ id: InstanceID, at endpoint: Endpoint) async throws {
        try await trafficProxy.add(id, at: endpoint)
        if let limit = serverConnectionLimit {
            try await trafficProxy.setConnectionLimit(id, limit)
        }
    }

    /// Gives every server of the proxy the per-server connection limit (nothing in
    /// dry-run). A failure is logged and tried again at the next wake.
    private func limitConnections(_ limit: Int, servers: [ProxyServer]) async {
        if limit != serverConnectionLimit {
            logger.info("per-server connection limit \(limit)", metadata: ["was": "\(serverConnectionLimit.map(String.init) ?? "none")"])
        }
        serverConnectionLimit = limit
        let inRotation = servers.filter { $0.state == .ready }
        poolIsFull = lastQueued > 0
            || (!inRotation.isEmpty && inRotation.allSatisfy { $0.currentConnections >= ($0.connectionLimit ?? limit) })
        guard !configuration.dryRun else { return }
        for server in servers where server.connectionLimit != limit {
            do {
                try await trafficProxy.setConnectionLimit(server.id, limit)
            } catch {
                logger.warning("setting \(server.id)'s connection limit failed; trying again at the next wake",
                               metadata: ["error": "\(error)"])
            }
        }
    }

    /// Carries out reconciliation actions (or logs them in dry-run).
    private func correct(_ actions: [ReconcileAction]) async -> [BackgroundJob] {
        guard !actions.isEmpty else { return [] }
        if configuration.dryRun {
            if actions != lastDryRunCorrections {
                for action in actions { logger.notice("would reconcile: \(action)") }
                record(Decision(sequence: 0, timestamp: wallClockMilliseconds, kind: .reconcile,
                                reasons: actions.map(\.description), dryRun: true,
                                actions: actions.map { "would: \($0)" }))
            }
            lastDryRunCorrections = actions
            return []
        }
        var jobs: [BackgroundJob] = []
        var errors: [String] = []
        for action in actions {
            logger.notice("reconcile: \(action)")
            do {
                switch action {
                case let .addToProxy(id, endpoint, state):
                    try await addToProxy(id, at: endpoint)
                    try await trafficProxy.setState(id, state)
                    try await registry.setDraining(host: id, state == .drain)
                case let .setProxyState(id, state):
                    try await trafficProxy.setState(id, state)
                case let .removeFromProxy(id):
                    try await trafficProxy.remove(id, cuttingSessions: true)
                case let .retire(id, _):
                    pool.retire(id)
                    jobs.append(stopJob(id))
                    try await trafficProxy.remove(id, cuttingSessions: true)
                case let .stop(id):
                    jobs.append(stopJob(id))
                case let .tellDrainState(id, draining):
                    try await registry.setDraining(host: id, draining)
                }
            } catch {
                logger.error("reconcile failed; trying again at the next wake",
                             metadata: ["action": "\(action)", "error": "\(error)"])
                errors.append("\(action): \(error)")
            }
        }
        let recorded = actions.filter { if case .stop = $0 { false } else { true } }
        if !recorded.isEmpty {
            record(Decision(sequence: 0, timestamp: wallClockMilliseconds, kind: .reconcile,
                            reasons: recorded.map(\.description), dryRun: false,
                            actions: recorded.map(\.description), errors: errors))
        }
        return jobs
    }

    /// Carries out a plan in order: activate, launch, drain, shed, remove (or logs it in dry-run).
    private func carryOut(_ plan: ScalePlan) async -> [BackgroundJob] {
        let dryRun = configuration.dryRun
        logger.notice("\(dryRun ? "would " : "")\(plan.summary)", metadata: [
            "reasons": .array(plan.reasons.map { .string($0) }), "dryRun": "\(dryRun)",
        ])
        let sequence = record(Decision(sequence: 0, timestamp: wallClockMilliseconds, kind: .plan,
                                       reasons: plan.reasons, plan: plan, dryRun: dryRun))
        if dryRun {
            let wouldDo = plan.steps.map { "would " + $0 }
            decisionLog.update(sequence) { $0.actions = wouldDo }
            // Decide next as a real run would: its launches would be under way (starting, so
            // not launched again), and its rebalancing is paced from now.
            for _ in 0..<max(0, plan.launch) {
                let id = newInstanceID()
                pool.launchStarted(id, at: clock.now())
                pretendLaunches.insert(id)
            }
            rebalancePacer.carriedOut(plan, now: clock.now())
            return []
        }
        var jobs: [BackgroundJob] = []
        var outcome = StepOutcomes()
        for id in plan.activate {
            if await attempt("activate \(id)", into: &outcome, {
                try await trafficProxy.setState(id, .ready)
                return try await registry.setDraining(host: id, false)
            }) {
                pool.setState(id, .active, now: clock.now())
            }
        }
        for _ in 0..<max(0, plan.launch) {
            let id = newInstanceID()
            pool.launchStarted(id, at: clock.now())
            outcome.actions.append("launch \(id)")
            jobs.append { await self.launch(id, decision: sequence) }
        }
        for id in plan.drain {
            if await attempt("drain \(id)", into: &outcome, {
                try await trafficProxy.setState(id, .drain)
                return try await registry.setDraining(host: id, true)
            }) {
                pool.setState(id, .draining, now: clock.now())
            }
        }
        for order in plan.shed {
            _ = await attempt("shed \(order.count) from \(order.host) (\(order.cause.rawValue))", into: &outcome, {
                try await registry.shed(host: order.host, count: order.count)
            })
        }
        for id in plan.remove {
            if await attempt("remove \(id)", into: &outcome, {
                try await trafficProxy.remove(id)
                return nil
            }) {
                pool.retire(id)
                jobs.append(stopJob(id))
            }
        }
        decisionLog.update(sequence) {
            $0.actions = outcome.actions
            $0.errors = outcome.errors
        }
        if let error = outcome.errors.last { lastError = error }
        rebalancePacer.carriedOut(plan, now: clock.now())
        return jobs
    }

    /// Dry-run: a launch it would have made counts as starting until the loop would give it up
    /// (as a real launch that never becomes ready); then it is forgotten. It never reached the
    /// driver, so there is nothing to correct about it.
    private func settlePretendLaunches(_ actions: [ReconcileAction]) -> [ReconcileAction] {
        actions.filter { action in
            guard case let .retire(id, _) = action, pretendLaunches.contains(id) else { return true }
            pool.retire(id)
            pretendLaunches.remove(id)
            return false
        }
    }

    /// Runs one step of a plan, noting it as done or failed. A step that ordered a host
    /// through the registry says whether the host heard it or the order waits for it.
    /// - Returns: whether it succeeded.
    private func attempt(_ step: String, into outcome: inout StepOutcomes,
                         _ body: () async throws -> CommandDelivery?) async -> Bool {
        do {
            let delivery = try await body()
            if delivery == .waiting {
                logger.warning("\(step): the host is not listening to the registry now; the order waits for it")
                outcome.actions.append(step + " (waiting: the host is not listening to the registry now)")
            } else {
                outcome.actions.append(step)
            }
            return true
        } catch {
            logger.error("\(step) failed; the next wake will look again", metadata: ["error": "\(error)"])
            outcome.errors.append("\(step): \(error)")
            return false
        }
    }

    /// Appends a decision to the log. - Returns: its sequence number.
    @discardableResult
    func record(_ decision: Decision) -> Int {
        decisionLog.append(decision)
    }

    /// A new id, unused by the pool as far as the loop knows.
    private func newInstanceID() -> InstanceID {
        let taken = pool.knownIDs.union(lastDriverIDs)
        for _ in 0..<100 {
            let id = makeID()
            if !taken.contains(id) { return id }
        }
        var counter = 1
        let base = makeID()
        while taken.contains("\(base)-\(counter)") { counter += 1 }
        return "\(base)-\(counter)"
    }
}

/// The steps of a plan that were done and those that failed.
struct StepOutcomes {
    var actions: [String] = []
    var errors: [String] = []
}

extension ScalePlan {
    /// The plan's steps in the order the loop carries them out, for logs and decisions.
    var steps: [String] {
        activate.map { "activate \($0)" }
            + (launch > 0 ? ["launch \(launch) instance\(launch == 1 ? "" : "s")"] : [])
            + drain.map { "drain \($0)" }
            + shed.map { "shed \($0.count) from \($0.host) (\($0.cause.rawValue))" }
            + remove.map { "remove \($0)" }
    }

    /// One line naming every step.
    var summary: String { steps.joined(separator: ", ") }
}
