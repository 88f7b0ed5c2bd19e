import Foundation

extension StackScenario {
    /// What experiment 1 saw.
    public struct BurstReport: Sendable {
        /// From the connect request until every user was connected and registered.
        public var timeToAllConnected: Duration
        /// Connections the first server refused (1013) during the burst.
        public var refusedByFirstServer: Double
        /// The most sessions any server had in any sample.
        public var highestSessions: Int
        /// Active servers at the end.
        public var servers: Int
    }

    /// Experiment 1: `count` users at once against `MIN_INSTANCES` servers. The first server
    /// refuses the overflow with 1013, new servers come up, every user is connected within
    /// `timeout`, and no server ever holds more than `MAX_CONNECTIONS_PER_HOST`.
    public func burstOfUsers(_ count: Int = 40, timeout: Duration = .seconds(20)) async throws -> BurstReport {
        let before = try await api.topology()
        guard before.active.count == knobs.minInstances, let first = before.active.first, let firstPort = first.endpoint?.port else {
            throw ScenarioFailure("experiment 1 needs \(knobs.minInstances) active server(s) first. \(await describeState())")
        }
        let refusedBefore = try await api.serverMetric("wsscale_connections_refused_total", port: firstPort) ?? 0
        let sampler = StackSampler(api: api, interval: .milliseconds(50))
        await sampler.start()
        let users = Self.users("burst", count)
        try await api.connect(users)
        let took: Duration
        do {
            took = try await waitUntilConnected(users, timeout: timeout)
            try await Task.sleep(for: .milliseconds(500)) // keep sampling while it settles
        } catch {
            await sampler.stop()
            throw error
        }
        await sampler.stop()

        guard let refusedAfter = try await api.serverMetric("wsscale_connections_refused_total", port: firstPort) else {
            throw ScenarioFailure("the first server \(first.id) reports no wsscale_connections_refused_total")
        }
        let refused = refusedAfter - refusedBefore
        if count > knobs.hardLimit, refused <= 0 {
            throw ScenarioFailure("\(count) users at once > MAX_CONNECTIONS_PER_HOST \(knobs.hardLimit), "
                                  + "but the first server \(first.id) refused none (1013)")
        }
        let highest = await sampler.highestSessions
        if highest > knobs.hardLimit {
            throw ScenarioFailure("a server held \(highest) sessions > MAX_CONNECTIONS_PER_HOST \(knobs.hardLimit): \(await sampler.maxSessions)")
        }
        let after = try await api.topology()
        for instance in after.instances {
            guard let port = instance.endpoint?.port,
                  let open = try await api.serverMetric("wsscale_connections", port: port) else { continue }
            if Int(open) > knobs.hardLimit {
                throw ScenarioFailure("server \(instance.id) reports \(open) open connections > \(knobs.hardLimit)")
            }
        }
        if after.active.count < knobs.serversNeeded(for: count) {
            throw ScenarioFailure("\(count) users on \(after.active.count) servers: above the scale-out threshold. \(await describeState())")
        }
        return BurstReport(timeToAllConnected: took, refusedByFirstServer: refused,
                           highestSessions: highest, servers: after.active.count)
    }

    /// What experiment 2 saw.
    public struct GradualConnectReport: Sendable {
        /// Active servers after each batch.
        public var serversAfterBatch: [Int]
        /// Batches that started right after a scale-out (and so were checked for landing on the new servers).
        public var batchesAfterScaleOut: Int
    }

    /// Experiment 2: users arrive in batches of `batch` every `every`. After each batch the
    /// pool is at or below the scale-out threshold (the count rose as utilization crossed it)
    /// without overshooting the policy's target, and the batch after each scale-out lands
    /// (partly) on the new servers.
    public func gradualConnects(total: Int = 40, batch: Int = 5, every: Duration = .seconds(1),
                                batchTimeout: Duration = .seconds(10)) async throws -> GradualConnectReport {
        let sampler = StackSampler(api: api, interval: .milliseconds(100))
        await sampler.start()
        defer { Task { await sampler.stop() } }
        let clock = ContinuousClock()
        var connected: [String] = []
        var serversAfterBatch: [Int] = []
        var checked = 0
        var previousIDs = Set(try await api.topology().instances.map(\.id))
        for start in stride(from: 1, through: total, by: batch) {
            let batchStart = clock.now
            let ids = Set(try await api.topology().active.map(\.id))
            let newServers = ids.subtracting(previousIDs)
            previousIDs = ids
            let users = Self.users("gradual", min(batch, total - start + 1), from: start)
            try await api.connect(users)
            connected += users
            let needed = knobs.serversNeeded(for: connected.count)
            let everyone = connected
            try await waitUntil("\(everyone.count) users connected on at least \(needed) active servers (at or below the threshold)",
                                timeout: batchTimeout, {
                let client = try await api.clientStatus()
                guard client.allConnected(everyone) else { return false }
                let topology = try await api.topology()
                return topology.totalSessions == everyone.count && topology.active.count >= needed
                    && !topology.instances.contains { $0.state == "starting" }
            }, describe: { await describeState() })
            let topology = try await api.topology()
            let target = max(knobs.minInstances, Int((Double(connected.count) * 100 / Double(knobs.connectionLimit * knobs.maxUtilization)).rounded(.up)))
            let active = topology.active.count
            if active > max(target, needed) {
                throw ScenarioFailure("\(connected.count) users on \(active) active servers: more than the policy's target \(target). \(await describeState())")
            }
            serversAfterBatch.append(active)
            if !newServers.isEmpty {
                checked += 1
                let client = try await api.clientStatus()
                let hosts = users.compactMap { client.user($0)?.host }
                if Set(hosts).isDisjoint(with: newServers) {
                    throw ScenarioFailure("batch \(users.first!)…\(users.last!) came after the scale-out to \(newServers.sorted()) "
                                          + "but none of it landed there: hosts \(hosts). \(await describeState())")
                }
            }
            let elapsed = clock.now - batchStart
            if elapsed < every { try await Task.sleep(for: every - elapsed) }
        }
        try await waitUntilSettled(connected, timeout: .seconds(10))
        await sampler.stop()
        let highest = await sampler.highestSessions
        if highest > knobs.hardLimit {
            throw ScenarioFailure("a server held \(highest) sessions > MAX_CONNECTIONS_PER_HOST \(knobs.hardLimit)")
        }
        let rises = zip(serversAfterBatch, serversAfterBatch.dropFirst()).filter { $0 < $1 }.count
            + (serversAfterBatch.first.map { $0 > knobs.minInstances ? 1 : 0 } ?? 0)
        if rises < 2 {
            throw ScenarioFailure("the server count rose in \(rises) step(s), not gradually: \(serversAfterBatch)")
        }
        if checked == 0 {
            throw ScenarioFailure("no batch followed a scale-out: \(serversAfterBatch)")
        }
        return GradualConnectReport(serversAfterBatch: serversAfterBatch, batchesAfterScaleOut: checked)
    }

    /// What experiment 3 saw.
    public struct GradualDisconnectReport: Sendable {
        /// Servers that were drained.
        public var drained: Set<String>
        /// Users that sat on a draining server (and were checked not to be cut).
        public var usersOnDrainingServers: Int
        /// From the last disconnect until only `MIN_INSTANCES` servers were left.
        public var timeToMinimum: Duration
    }

    /// Experiment 3: `total` users connected, then they leave in batches of `batch` every
    /// `every`. Servers are drained; no user on a draining server is cut (it stays connected
    /// to it with the same reconnect count until we disconnect it); drained servers go away once
    /// empty; the pool never has fewer than `MIN_INSTANCES` active servers and ends at that.
    public func gradualDisconnects(total: Int = 40, batch: Int = 5, every: Duration = .seconds(1)) async throws -> GradualDisconnectReport {
        let users = Self.users("leaving", total)
        try await api.connect(users)
        try await waitUntilSettled(users, timeout: .seconds(20))
        let watch = DrainWatch()
        let sampler = StackSampler(api: api, interval: .milliseconds(100), readsClient: true, observer: watch.observer)
        await sampler.start()
        let clock = ContinuousClock()
        var remaining = users
        let timeToMinimum: Duration
        do {
            for start in stride(from: 0, to: total, by: batch) {
                let batchStart = clock.now
                let leaving = Array(users[start..<min(total, start + batch)])
                watch.release(leaving)
                try await api.disconnect(leaving)
                remaining.removeFirst(leaving.count)
                let stillThere = remaining
                try await waitUntil("\(leaving.count) users disconnected, \(stillThere.count) left", timeout: .seconds(5), {
                    let client = try await api.clientStatus()
                    guard leaving.allSatisfy({ client.user($0)?.state == "disconnected" }) else { return false }
                    return try await api.topology().totalSessions == stillThere.count
                }, describe: { await describeState() })
                let elapsed = clock.now - batchStart
                if elapsed < every { try await Task.sleep(for: every - elapsed) }
            }
            timeToMinimum = try await waitUntil("only MIN_INSTANCES \(knobs.minInstances) server(s) left", timeout: .seconds(20), {
                let topology = try await api.topology()
                return topology.instances.count == knobs.minInstances && topology.active.count == knobs.minInstances
            }, describe: { await describeState() })
            try await Task.sleep(for: .milliseconds(300))
        } catch {
            await sampler.stop()
            throw error
        }
        await sampler.stop()
        let violations = await sampler.violations
        if !violations.isEmpty {
            throw ScenarioFailure("draining cut users:\n" + violations.joined(separator: "\n"))
        }
        let drained = await sampler.seenDraining
        if drained.isEmpty { throw ScenarioFailure("no server was drained while users left") }
        if watch.watchedUsers.isEmpty {
            throw ScenarioFailure("no user sat on a draining server, so 'none is cut' was not exercised; drained \(drained.sorted())")
        }
        let minActive = await sampler.minActive
        if minActive < knobs.minInstances {
            throw ScenarioFailure("the pool fell to \(minActive) active server(s) < MIN_INSTANCES \(knobs.minInstances)")
        }
        return GradualDisconnectReport(drained: drained, usersOnDrainingServers: watch.watchedUsers.count,
                                       timeToMinimum: timeToMinimum)
    }

    /// What experiment 4 saw.
    public struct SwissCheeseReport: Sendable {
        /// The server whose users left.
        public var holedServer: String
        /// Users that left it.
        public var left: Int
        /// From the disconnect until every remaining user was connected and no active server
        /// was above average + tolerance.
        public var settleTime: Duration
    }

    /// Experiment 4 (Swiss cheese): `total` users spread over the pool, then all but `keep` users
    /// of the fullest server leave. Within `timeout`, every active server is at or below the
    /// average + `OVERUTILIZED_TOLERANCE_PERCENT` and every remaining user is connected.
    /// (The policy never sheds a host below the average, so the holed server may stay below
    /// average − tolerance; only the upper side is a rule.)
    /// - Parameter quiet: how long the filled pool must stay unchanged before the hole is made;
    ///   longer than `REBALANCE_COOLDOWN_SECONDS`, so no rebalance is still pending.
    public func swissCheese(total: Int = 40, keep: Int = 1, setupBatch: Int = 8, quiet: Duration = .milliseconds(1500),
                            timeout: Duration = .seconds(10), prefix: String = "cheese") async throws -> SwissCheeseReport {
        // Users arrive in batches (as in experiment 2): the pool grows in steps to about
        // MAX_UTILIZATION_PERCENT per server, the shape the seed's experiment starts from.
        let users = Self.users(prefix, total)
        for start in stride(from: 0, to: total, by: setupBatch) {
            let batch = Array(users[start..<min(total, start + setupBatch)])
            try await api.connect(batch)
            try await waitUntilConnected(Array(users[..<(start + batch.count)]), timeout: .seconds(10))
        }
        try await waitUntilSettled(users, timeout: .seconds(30), quiet: quiet)
        let client = try await api.clientStatus()
        let byHost = Dictionary(grouping: users.filter { client.user($0)?.host != nil }) { client.user($0)!.host! }
        guard let (host, onHost) = byHost.max(by: { $0.value.count < $1.value.count }), onHost.count > keep else {
            throw ScenarioFailure("no server holds more than \(keep) users: \(client.hosts)")
        }
        let leaving = Array(onHost.dropFirst(keep))
        let remaining = users.filter { !leaving.contains($0) }
        let counts = byHost.mapValues(\.count).merging([host: keep]) { $1 }
        let average = Double(remaining.count) / Double(counts.count)
        let bound = average + Double(knobs.connectionLimit * knobs.overTolerance) / 100
        if !counts.values.contains(where: { Double($0) > bound }) {
            throw ScenarioFailure("the hole in \(host) leaves no server above average + tolerance (\(counts)), nothing to rebalance")
        }
        try await api.disconnect(leaving)
        let settle = try await waitUntilBalanced(remaining, timeout: timeout)
        return SwissCheeseReport(holedServer: host, left: leaving.count, settleTime: settle)
    }

    /// What the crash check saw.
    public struct CrashReport: Sendable {
        /// The killed server.
        public var killed: String
        /// Users that were on it.
        public var usersOnIt: Int
        /// From the kill until it left the topology.
        public var timeToLeaveTopology: Duration
        /// From the kill until every user was connected elsewhere and the pool was back at or
        /// below the scale-out threshold.
        public var timeToRecover: Duration
    }

    /// A server dies (`killServer`, e.g. `kill -9`): its users reconnect to other servers, its
    /// sessions leave the topology within the lease (plus slack), and a replacement starts when
    /// the rest would be above the scale-out threshold.
    public func serverCrash(total: Int = 20) async throws -> CrashReport {
        let users = Self.users("crash", total)
        try await api.connect(users)
        try await waitUntilSettled(users, timeout: .seconds(20))
        let topology = try await api.topology()
        guard let victim = topology.active.max(by: { $0.sessions < $1.sessions }), victim.sessions > 0 else {
            throw ScenarioFailure("no active server with users to kill. \(await describeState())")
        }
        let client = try await api.clientStatus()
        let victims = client.users.filter { $0.host == victim.id }
        let reconnectsBefore = Dictionary(uniqueKeysWithValues: victims.map { ($0.userId, $0.reconnectCount) })
        let clock = ContinuousClock()
        let killedAt = clock.now
        try await killServer(victim.id)
        let leave = try await waitUntil("killed server \(victim.id) leaves the topology", timeout: knobs.lease + .seconds(5), {
            try await api.topology().instance(victim.id) == nil
        }, describe: { await describeState() })
        try await waitUntil("every user connected again, none on \(victim.id), pool at or below the threshold",
                            timeout: .seconds(15), {
            let client = try await api.clientStatus()
            let topology = try await api.topology()
            return client.allConnected(users) && !client.users.contains { $0.host == victim.id }
                && topology.totalSessions == total && topology.active.count >= knobs.serversNeeded(for: total)
        }, describe: { await describeState() })
        let recovered = clock.now - killedAt
        let after = try await api.clientStatus()
        for (user, before) in reconnectsBefore where (after.user(user)?.reconnectCount ?? 0) <= before {
            throw ScenarioFailure("user \(user) was on the killed server but did not reconnect (count \(before))")
        }
        return CrashReport(killed: victim.id, usersOnIt: victims.count, timeToLeaveTopology: leave, timeToRecover: recovered)
    }
}
