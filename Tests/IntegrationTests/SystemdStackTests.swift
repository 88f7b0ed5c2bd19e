import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests {
/// The whole stack on the systemd backend, under the real systemd of the shared
/// `SystemdContainerStack` (`systemd/try-in-container.sh up`: the balancer starts each server
/// as `wsscale-server@wsscale:<id>.service`), driven only through the ports published on
/// 127.0.0.1: the seed's four experiments (`StackScenario`), a server's `kill -9`, the
/// balancer's `kill -9`, a stop with sessions open, and the figures. Each test starts from one
/// idle server (`resetToIdle`). Needs the systemd driver in the packaged binary.
@Suite("wsscale on systemd, whole stack", .serialized,
       .enabled(if: SystemdContainerStack.unavailableReason == nil && SystemdContainerStack.hasSystemdBackend,
                "needs podman, the systemd image and a binary with the systemd backend (a SKIPPING or NOTE line above says why)"))
struct SystemdStackTests {
    @Test("systemd 1: 40 users at once; the overflow waits in HAProxy's queue for the new servers (none refused), everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let report = try await Self.scenario { try await $0.burstOfUsers(40) }
        print("systemd experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer == 0)
        #expect(report.highestSessions <= 30)
        #expect(report.timeToAllConnected < .seconds(20))
    }

    @Test("systemd 2: users arrive in batches; servers are added as utilization crosses 80 %, new users land on them")
    func gradualConnects() async throws {
        let report = try await Self.scenario { try await $0.gradualConnects(total: 40, batch: 5) }
        print("systemd experiment 2: active servers after each batch \(report.serversAfterBatch)")
        #expect(report.serversAfterBatch.last ?? 0 >= 5)
    }

    @Test("systemd 3: users leave in batches; servers drain without cutting anyone, empty ones go, never below MIN_INSTANCES")
    func gradualDisconnects() async throws {
        let report = try await Self.scenario { try await $0.gradualDisconnects(total: 40, batch: 5) }
        print("systemd experiment 3: drained \(report.drained.sorted()), down to MIN_INSTANCES \(report.timeToMinimum) after the last disconnect")
        #expect(!report.drained.isEmpty)
    }

    /// Also the Swiss-cheese settle time (README's figures).
    @Test("systemd 4: Swiss cheese; within 10 s every active server is at most average + tolerance and everyone is connected")
    func swissCheese() async throws {
        let report = try await Self.scenario { try await $0.swissCheese(total: 40, timeout: .seconds(10)) }
        print("systemd experiment 4 (Swiss cheese): \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
        #expect(report.settleTime < .seconds(10))
    }

    /// `kill -9` of a server's main process: the exit is reported (the server leaves the
    /// topology, its unit is failed), its users reconnect elsewhere and the pool is restored.
    @Test func killingAServerIsReportedAndThePoolRestored() async throws {
        let stack = try SystemdContainerStack.running()
        let report = try await Self.scenario { try await $0.serverCrash(total: 20) }
        print("systemd server kill -9: \(report.usersOnIt) users on \(report.killed); left the topology after "
              + "\(report.timeToLeaveTopology), recovered after \(report.timeToRecover); replacements \(report.replacements)")
        let unit = await Self.unit(of: report.killed, in: stack)
        if let unit {
            let active = await stack.exec(["systemctl", "is-active", unit]).output
            #expect(!active.hasPrefix("active"), "the killed server's unit \(unit) is not active: \(active)")
        }
    }

    /// `kill -9` of the balancer: systemd restarts it (`Restart=always`), it adopts every
    /// running server unit and starts none twice; the users stay connected.
    @Test func killingTheBalancerRestartsItAndItAdoptsTheServers() async throws {
        let stack = try SystemdContainerStack.running()
        let scenario = try Self.resetScenario()
        try await Self.resetToIdle(scenario.api)
        let users = StackScenario.users("adopt", 20)
        try await scenario.api.connect(users)
        try await scenario.waitUntilSettled(users, timeout: .seconds(30))
        let unitsBefore = await Self.serverUnits(in: stack)
        let idsBefore = Set(try await scenario.api.topology().instances.map(\.id))
        let reconnectsBefore = try await scenario.api.clientStatus().totals.reconnects
        let pid = await stack.exec(["systemctl", "show", "-p", "MainPID", "--value", "wsscale-balancer.service"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(await stack.exec(["kill", "-9", pid]).status == 0)
        try await TestSupport.waitUntil("the balancer restarted by systemd (a new MainPID) and answering", timeout: .seconds(30), {
            let now = await stack.exec(["systemctl", "show", "-p", "MainPID", "--value", "wsscale-balancer.service"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard now != pid, now != "0" else { return false }
            return Set(try await scenario.api.topology().instances.map(\.id)) == idsBefore
        }, describe: { await scenario.describeState() })
        let unitsAfter = await Self.serverUnits(in: stack)
        #expect(unitsAfter == unitsBefore, "server units (name, invocation) before \(unitsBefore), after \(unitsAfter)")
        try await scenario.waitUntilSettled(users, timeout: .seconds(20))
        let reconnectsAfter = try await scenario.api.clientStatus().totals.reconnects
        #expect(reconnectsAfter == reconnectsBefore, "no user lost its connection: reconnects \(reconnectsBefore) → \(reconnectsAfter)")
        #expect(Set(try await scenario.api.topology().instances.map(\.id)) == idsBefore)
    }

    /// A server stopped with sessions open (`systemctl stop`, SIGTERM): its clients get 1001
    /// and its records leave Redis before it exits.
    ///
    /// The client simulator keeps only each user's last end, and a user closed with 1001 may
    /// be sent back to the stopping server by HAProxy's `leastconn` before its health check
    /// marks it down (`retries 0`: the upgrade is then refused with 503 and the user retries).
    /// So each user that was on it must have reconnected with its last end either 1001 or that
    /// 503, and the server's own journal must show every session closed by handshake: it logs
    /// `closing sessions without handshake` when one was not.
    @Test func stoppingAServerClosesWith1001AndLeavesRedis() async throws {
        let stack = try SystemdContainerStack.running()
        let scenario = try Self.resetScenario()
        try await Self.resetToIdle(scenario.api)
        let users = StackScenario.users("stop", 12)
        try await scenario.api.connect(users)
        try await scenario.waitUntilSettled(users, timeout: .seconds(30))
        let topology = try await scenario.api.topology()
        let victim = try #require(topology.active.max { $0.sessions < $1.sessions })
        let unit = try #require(await Self.unit(of: victim.id, in: stack), "no unit for \(victim.id)")
        let before = try await scenario.api.clientStatus()
        let onIt = before.users.filter { $0.host == victim.id }
        #expect(onIt.count == victim.sessions, "the client and the topology agree on \(victim.id): \(onIt.map(\.userId)), \(victim.sessions)")
        let key = "wsscale:host:\(victim.id):sessions"
        #expect(await Self.redisExists(key, in: stack) == "1", "\(key) is the server's record")
        #expect(await stack.exec(["systemctl", "stop", unit]).status == 0)
        let left = await Self.redisExists(key, in: stack)
        #expect(left == "0", "the stopped server's sessions are still in Redis: \(left)")
        let journal = await stack.exec(["journalctl", "--no-pager", "-o", "cat", "-u", unit]).output
        #expect(journal.contains("closing every session for shutdown") && journal.contains("sessions=\(onIt.count)"),
                "the server closed its \(onIt.count) sessions for shutdown:\n\(journal.suffix(2000))")
        #expect(!journal.contains("closing sessions without handshake"), "every close handshake (1001) completed:\n\(journal.suffix(2000))")
        func closedWith1001(_ user: ClientSnapshot.User?, _ earlier: ClientSnapshot.User) -> Bool {
            guard let user, user.state == "connected", user.reconnectCount > earlier.reconnectCount else { return false }
            return user.lastCloseCode == 1001 || (user.lastCloseCode == nil && (user.lastCloseReason ?? "").contains("503"))
        }
        try await TestSupport.waitUntil("every user that was on \(victim.id) was closed with 1001 and is connected again", timeout: .seconds(20), {
            let client = try await scenario.api.clientStatus()
            return client.allConnected(users) && onIt.allSatisfy { closedWith1001(client.user($0.userId), $0) }
        }, describe: {
            let ends = (try? await scenario.api.clientStatus()).map { client in
                onIt.map { earlier in
                    let user = client.user(earlier.userId)
                    return "\(earlier.userId): \(user?.state ?? "unknown"), last end \(user?.lastCloseCode.map(String.init) ?? "none") "
                        + "\(user?.lastCloseReason ?? ""), reconnects \(earlier.reconnectCount) → \(user?.reconnectCount ?? -1)"
                }
            } ?? []
            return "\(await scenario.describeState()); users that were on \(victim.id): \(ends)"
        })
        let after = try await scenario.api.clientStatus()
        #expect(onIt.contains { after.user($0.userId)?.lastCloseCode == 1001 }, "at least one user's last end is the 1001 itself")
    }

    /// Scale-out reaction on systemd, median of 5 (`ScaleOutReaction`: the threshold crossing
    /// through HAProxy's published port → the new unit active and HAProxy `ready`). Prints the
    /// figure (README's table).
    @Test func measuresScaleOutReaction() async throws {
        let stack = try SystemdContainerStack.running()
        _ = try Self.resetScenario()
        let api = StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort)
        try await Self.resetToIdle(api)
        let samples = try await ScaleOutReaction.measure(samples: 5, traffic: Endpoint(host: "127.0.0.1", port: stack.trafficPort)) {
            try await stack.topology()
        }
        let median = ScaleOutReaction.median(samples)
        print("systemd backend scale-out reaction (threshold crossing → new unit active, HAProxy ready): median of 5 = \(median), all = \(samples)")
        #expect(median < .seconds(1))
    }

    // MARK: - Helpers

    /// The scenarios of the shared stack, after `resetToIdle`.
    static func scenario<Result>(_ body: (StackScenario) async throws -> Result) async throws -> Result {
        let scenario = try resetScenario()
        try await resetToIdle(scenario.api)
        return try await body(scenario)
    }

    static func resetScenario() throws -> StackScenario {
        let stack = try SystemdContainerStack.running()
        return StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                             killServer: { id in
                                 guard let unit = await SystemdStackTests.unit(of: id, in: stack) else { throw ScenarioFailure("no unit for \(id)") }
                                 let pid = await stack.exec(["systemctl", "show", "-p", "MainPID", "--value", unit]).output
                                     .trimmingCharacters(in: .whitespacesAndNewlines)
                                 let kill = await stack.exec(["kill", "-9", pid])
                                 guard kill.status == 0 else { throw ScenarioFailure("kill -9 \(pid) (\(unit)): \(kill.output)") }
                             },
                             serverMetric: { name, server in
                                 // The servers listen on the container's loopback: ask there.
                                 guard let port = server.endpoint?.port else { return nil }
                                 let metrics = await stack.exec(["curl", "-fsS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"])
                                 guard metrics.status == 0 else { throw ScenarioFailure("GET /metrics on :\(port) in the container: \(metrics.output)") }
                                 return PrometheusText.value(of: name, in: metrics.output)
                             })
    }

    /// Disconnects every user the client simulator knows and waits for one idle server in rotation.
    static func resetToIdle(_ api: StackAPI) async throws {
        let known = try await api.clientStatus().users.filter { $0.state != "disconnected" }.map(\.userId)
        if !known.isEmpty { try await api.disconnect(known) }
        let scenario = StackScenario(api: api, killServer: { _ in })
        try await TestSupport.waitUntil("one idle server in rotation, nothing else", timeout: .seconds(60), {
            let topology = try await api.topology()
            return topology.instances.count == 1 && topology.active.count == 1 && topology.totalSessions == 0
                && topology.instances[0].proxyState == "ready"
        }, describe: { await scenario.describeState() })
    }

    /// The unit of a server: `wsscale-server@<pool>:<id>.service`.
    /// `EXISTS key` in the container's Redis, as the balancer's user (its password read from
    /// /etc/wsscale/redis-users.env and sent with AUTH on stdin, not on a command line).
    static func redisExists(_ key: String, in stack: SystemdContainerStack) async -> String {
        let script = """
        . /etc/wsscale/redis-users.env; p=${REDIS_URL#redis://wsscale-balancer:}; p=${p%@*}
        printf 'AUTH wsscale-balancer %s\\nEXISTS %s\\n' "$p" '\(key)' | redis-cli -h 127.0.0.1 | tail -n 1
        """
        return await stack.shell(script).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func unit(of id: String, in stack: SystemdContainerStack) async -> String? {
        await serverUnits(in: stack).map(\.name).first { $0.hasSuffix(":\(id).service") || $0 == "wsscale-server@\(id).service" }
    }

    /// The loaded, active server units with their invocation ids (a unit started twice has a new one).
    static func serverUnits(in stack: SystemdContainerStack) async -> [ServerUnit] {
        let listed = await stack.shell("""
            for u in $(systemctl list-units --state=active --plain --no-legend 'wsscale-server@*' | awk '{print $1}'); do
              echo "$u $(systemctl show -p InvocationID --value "$u")"; done
            """)
        return listed.output.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? ServerUnit(name: String(parts[0]), invocation: String(parts[1])) : nil
        }.sorted { $0.name < $1.name }
    }

    /// A server unit and its invocation.
    struct ServerUnit: Equatable, CustomStringConvertible {
        var name: String
        var invocation: String
        var description: String { "\(name) (\(invocation.prefix(8)))" }
    }
}
}
