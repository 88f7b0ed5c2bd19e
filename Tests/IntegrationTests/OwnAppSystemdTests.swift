import Foundation
import Testing
import WSScaleTestSupport

extension RealStackTests.SystemdStackTests {
/// The example chat behind every server of the systemd deployment (the shared
/// `SystemdContainerStack`): the balancer's environment file names the app the package ships
/// (`/usr/share/wsscale/examples/chat/chat.py`), the balancer hands it to each
/// `wsscale-server@` unit, and the unit runs it as the server's child in its sandbox. The
/// chat's own Redis is a second redis-server in the container. The deployment is put back
/// as it was at the end.
@Suite("your own app in the pool: the chat under systemd")
struct OwnAppSystemdTests {
    /// The lines the test adds to `/etc/wsscale/wsscale.env`, between two markers.
    static func appSettings(minInstances: Int) -> String {
        """
        # own-app-test begin
        WSSCALE_APP_COMMAND=/usr/bin/python3 /usr/share/wsscale/examples/chat/chat.py
        APP_UPSTREAM_URL=ws://127.0.0.1:{port}/ws/{userId}
        APP_HEALTH_CHECK=/health
        WSSCALE_APP_ENV=CHAT_REDIS_URL
        CHAT_REDIS_URL=redis://127.0.0.1:6390/0
        MIN_INSTANCES=\(minInstances)
        # own-app-test end
        """
    }

    /// Stops the balancer and every server, changes the configuration, and starts the balancer again.
    static func redeploy(_ stack: SystemdContainerStack, settings: String?) async throws {
        // The last environment file the balancer reads wins: the tests' own knobs, when there are.
        let lines = settings.map { "printf '%s\\n' '\($0.replacingOccurrences(of: "'", with: "'\\''"))' >> \"$f\"" } ?? ":"
        let script = """
            set -e
            f=/etc/wsscale-try/try-in-container.env; [ -f "$f" ] || f=/etc/wsscale/wsscale.env
            systemctl stop wsscale-balancer.service
            systemctl stop 'wsscale-server@*' || true
            sed -i '/# own-app-test begin/,/# own-app-test end/d' "$f"
            \(lines)
            systemctl start wsscale-balancer.service
            """
        let result = await stack.shell(script)
        guard result.status == 0 else { throw StackAPIError("redeploying: \(result.output)") }
    }

    @Test("systemd: the chat behind every unit; a message crosses servers, also after a move; the seed's four experiments with it")
    func chatUnderSystemd() async throws {
        let stack = try SystemdContainerStack.running()
        let redis = await stack.shell("redis-cli -p 6390 ping >/dev/null 2>&1 || redis-server --port 6390 --bind 127.0.0.1 --save '' --daemonize yes")
        #expect(redis.status == 0, "the chat's redis-server: \(redis.output)")
        let api = StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort)
        do {
            try await Self.redeploy(stack, settings: Self.appSettings(minInstances: 2))
            try await TestSupport.waitUntil("two servers with the app in rotation", timeout: .seconds(90)) {
                try await api.topology().active.count == 2
            }
            let units = await stack.shell("systemd-cgls --no-pager -u 'wsscale-server@*' 2>/dev/null || ps -eo args")
            #expect(units.output.contains("chat.py"), "no chat app under the server units: \(units.output)")
            let check = ChatCheck(trafficPort: stack.trafficPort) { host in
                let server = try await api.topology().instances.first { $0.id == host }
                let port = try #require(server?.endpoint?.port)
                // The token the balancer hands its servers: the last file that sets it wins.
                let drop = await stack.shell("""
                    t=$(grep -h '^WSSCALE_ADMIN_TOKEN=' /etc/wsscale/admin-token.env /etc/wsscale/wsscale.env \\
                        /etc/wsscale-try/try-in-container.env 2>/dev/null | tail -n 1 | cut -d= -f2-)
                    printf 'Authorization: Bearer %s\\n' "$t" | curl -fsS --max-time 5 -X POST -H @- http://127.0.0.1:\(port)/ws-session/\(host)/drop
                    """)
                guard drop.status == 0 else { throw StackAPIError("drop on \(host): \(drop.output)") }
            }
            let report = try await check.run()
            print("chat under systemd: \(report)")

            try await Self.redeploy(stack, settings: Self.appSettings(minInstances: 1))
            let scenario = try RealStackTests.SystemdStackTests.resetScenario()
            for number in 1...4 {
                try await RealStackTests.SystemdStackTests.resetToIdle(api)
                try await OwnAppContainerStack.runExperiment(number, scenario, label: "systemd, own app")
            }
        } catch {
            try? await Self.redeploy(stack, settings: nil)
            throw error
        }
        try await Self.redeploy(stack, settings: nil)
        try await RealStackTests.SystemdStackTests.resetToIdle(api)
    }
}
}
