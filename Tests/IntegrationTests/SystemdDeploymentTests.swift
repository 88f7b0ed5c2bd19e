import Foundation
import Testing
import WSScaleTestSupport

extension RealStackTests {
/// The systemd deployment (`systemd/`) under a real systemd: the shared
/// `SystemdContainerStack` (`systemd/try-in-container.sh up`: the package installed by
/// `systemd/install.sh`, `wsscale.target` started). Nested in `RealStackTests`: serialized with
/// every other whole-stack test; the uninstall test puts the deployment back afterwards.
@Suite("wsscale under systemd: the deployment", .serialized,
       .enabled(if: SystemdContainerStack.unavailableReason == nil, "needs podman and the systemd image (a SKIPPING line above says why)"))
struct SystemdDeploymentTests {
    /// `systemd-analyze security` of the server template and the balancer, as installed.
    /// Prints the figures (systemd/README.md).
    @Test func exposureScoresAreLow() async throws {
        let stack = try SystemdContainerStack.running()
        for (unit, limit) in [("wsscale-server@wsscale:score.service", 2.0), ("wsscale-balancer.service", 4.0)] {
            let analysis = await stack.exec(["systemd-analyze", "security", "--no-pager", unit])
            let line = analysis.output.split(separator: "\n").first { $0.contains("Overall exposure level for \(unit):") }
            let score = line.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
            print("systemd-analyze security: \(line.map { String($0) } ?? "no figure for \(unit)")")
            #expect(score != nil, "no 'Overall exposure level' for \(unit): \(analysis.output.suffix(600))")
            if let score { #expect(score <= limit, "\(unit): \(score) > \(limit)") }
        }
    }

    /// Attack, as installed: Redis refuses anyone without a user and confines the servers'
    /// user; the secrets files are readable by root and one group only; the published traffic
    /// port carries no admin path; the client simulator wants the admin token.
    @Test func secretsAndRedisUsersAsInstalled() async throws {
        let stack = try SystemdContainerStack.running()
        let modes = await stack.exec(["stat", "-c", "%n %a %U:%G", "/etc/wsscale/redis-users.acl",
                                      "/etc/wsscale/redis-users.env", "/etc/wsscale/admin-token.env"]).output
        print("attack systemd: \(modes.replacingOccurrences(of: "\n", with: "; "))")
        for expected in ["/etc/wsscale/redis-users.acl 640 root:redis", "/etc/wsscale/redis-users.env 640 root:wsscale",
                         "/etc/wsscale/admin-token.env 640 root:wsscale"] {
            #expect(modes.contains(expected), "\(expected): \(modes)")
        }
        let anonymous = await stack.shell("printf 'PING\\nFLUSHALL\\n' | redis-cli -h 127.0.0.1")
        print("attack systemd: redis without a user → \(anonymous.output.replacingOccurrences(of: "\n", with: " | "))")
        #expect(anonymous.output.components(separatedBy: "NOAUTH").count == 3, "\(anonymous.output)")
        // A server's own user, as the balancer wrote it into the server's environment file
        // (waiting for the balancer's first server to have one).
        let asServer = await stack.shell("""
            for i in $(seq 1 300); do f=$(ls /run/wsscale/*.env 2>/dev/null | head -n 1); [ -n "$f" ] && break; sleep 0.1; done
            u=$(sed -n 's/^REDIS_URL="\\{0,1\\}\\([^"]*\\)"\\{0,1\\}$/\\1/p' "$f"); u=${u#redis://}
            user=${u%%:*}; rest=${u#*:}; p=${rest%%@*}; echo "user $user"
            printf 'AUTH %s %s\\nFLUSHALL\\nCONFIG GET dir\\nKEYS *\\nSET other x\\nPUBLISH wsscale:cmd:other drain\\n' "$user" "$p" | redis-cli -h 127.0.0.1
            """)
        print("attack systemd: redis as a server's own user → \(asServer.output.replacingOccurrences(of: "\n", with: " | "))")
        #expect(asServer.output.hasPrefix("user wsscale-server-"), "a server logs in as its own user: \(asServer.output)")
        #expect(asServer.output.contains("\nOK\n"), "the server's user logs in: \(asServer.output)")
        #expect(asServer.output.components(separatedBy: "NOPERM").count == 6, "\(asServer.output)")

        let traffic = try await RawHTTPClient.request("GET", "/ws-session/all", port: stack.trafficPort)
        #expect(traffic.status == 404, "GET /ws-session/all through the traffic port: \(traffic.status)")
        let intruder = try await RawHTTPClient.request("POST", "/route/kickstart/ws/batch/connect", port: stack.clientPort,
                                                       headers: [("Content-Type", "application/json")], body: #"{"userIds":["x"]}"#)
        #expect(intruder.status == 401, "connect without the token: \(intruder.status)")
        print("attack systemd: traffic port /ws-session/all → \(traffic.status), client connect without token → \(intruder.status)")
    }

    /// The polkit rule: user wsscale starts and stops a server unit (which comes up under its
    /// sandbox and tells systemd READY=1), and is refused any other unit or verb.
    @Test func polkitLetsTheBalancersUserManageOnlyServerUnits() async throws {
        let stack = try SystemdContainerStack.running()
        // Pool "probe" and key prefix "probe": the balancer (pool wsscale) neither adopts nor counts it.
        let unit = "wsscale-server@probe:polkit.service"
        let written = await stack.shell("""
            umask 077; printf 'SERVER_ID=probe-polkit\\nSERVER_HOST=127.0.0.1\\nSERVER_PORT=18555\\nREDIS_URL=redis://127.0.0.1:6379/0\\nREDIS_KEY_PREFIX=probe\\n' \
              > /run/wsscale/probe:polkit.env && chown wsscale:wsscale /run/wsscale/probe:polkit.env
            """)
        #expect(written.status == 0, "\(written.output)")
        defer {
            // Cleanup off the shared threads; the probe's pool and key prefix are no other test's.
            Task { await stack.shell("systemctl stop \(unit); systemctl reset-failed \(unit); rm -f /run/wsscale/probe:polkit.env") }
        }

        let start = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl", "start", unit])
        #expect(start.status == 0, "start as wsscale: \(start.output)")
        #expect(await stack.exec(["systemctl", "is-active", unit]).output.hasPrefix("active"))
        let health = await stack.exec(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:18555/health"])
        #expect(health.output == "200", "the server in its sandbox answers /health: \(health.output)")
        let stop = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl", "stop", unit])
        #expect(stop.status == 0, "stop as wsscale: \(stop.output)")
        // kill and reset-failed, as the driver uses them after its grace and after a crash.
        let again = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl", "start", unit])
        #expect(again.status == 0, "start again as wsscale: \(again.output)")
        let kill = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl", "kill", "-s", "SIGKILL", unit])
        #expect(kill.status == 0, "kill as wsscale: \(kill.output)")
        let failed = await stack.shell("for i in $(seq 1 100); do systemctl is-failed -q \(unit) && exit 0; sleep 0.1; done; exit 1")
        #expect(failed.status == 0, "the SIGKILLed server's unit is failed")
        let reset = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl", "reset-failed", unit])
        #expect(reset.status == 0, "reset-failed as wsscale: \(reset.output)")

        for refused in [["start", "redis-server.service"], ["stop", "haproxy.service"], ["restart", unit],
                        ["start", "wsscale-client.service"]] {
            let attempt = await stack.exec(["runuser", "-u", "wsscale", "--", "systemctl"] + refused)
            #expect(attempt.status != 0, "systemctl \(refused.joined(separator: " ")) as wsscale was allowed")
            #expect(attempt.output.contains("Interactive authentication required"), "\(refused): \(attempt.output)")
        }
    }

    /// The KillMode trap under the real systemd: `wsscale balancer` with the process backend as
    /// a service exits 2 with the fix.
    @Test func theProcessBackendIsRefusedAsAService() async throws {
        let stack = try SystemdContainerStack.running()
        let run = await stack.exec(["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p", "User=wsscale",
                              "-p", "WorkingDirectory=/tmp", "-E", "WSSCALE_BACKEND=process", "-E", "BALANCER_PORT=18556",
                              "/usr/bin/wsscale", "balancer"])
        #expect(run.status == 2, "exit status \(run.status): \(run.output)")
        #expect(run.output.contains("WSSCALE_BACKEND=systemd"), "\(run.output)")
        #expect(run.output.contains("KillMode=control-group"), "\(run.output)")
    }

    /// `install.sh` a second time: exit 0, and no file, user or running unit changes.
    @Test func installIsIdempotent() async throws {
        let stack = try SystemdContainerStack.running()
        let snapshot = """
            dpkg-query -W -f='${Version}\\n' wsscale; getent passwd wsscale; getent group wsscale
            for f in $(dpkg -L wsscale); do [ -f "$f" ] && stat -c '%n %a %U %G %s %Y' "$f"; done
            systemctl show -p MainPID -p ActiveEnterTimestamp wsscale-balancer.service haproxy.service redis-server.service
            """
        let before = await stack.shell(snapshot)
        let again = await stack.exec(["/opt/wsscale-systemd/install.sh", "--deb", "/opt/" + URL(fileURLWithPath: stack.package).lastPathComponent])
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("nothing to do"), "\(again.output)")
        let after = await stack.shell(snapshot)
        #expect(before.status == 0 && before.output == after.output, "changed:\n\(before.output)\n---\n\(after.output)")
    }

    /// `install.sh --uninstall` leaves no unit, user, file or process of ours; then the
    /// deployment is put back (install, start) for the other tests.
    @Test func uninstallRemovesEverything() async throws {
        let stack = try SystemdContainerStack.running()
        let files = await stack.shell("dpkg -L wsscale").output.split(separator: "\n").map(String.init)
        #expect(files.contains("/usr/bin/wsscale"), "\(files)")
        let removed = await stack.exec(["/opt/wsscale-systemd/install.sh", "--uninstall"])
        #expect(removed.status == 0, "\(removed.output)")
        let left = await stack.shell("""
            for f in \(files.map { "'\($0)'" }.joined(separator: " ")); do [ -f "$f" ] && echo "file $f"; done
            getent passwd wsscale && echo "user wsscale"; getent group wsscale && echo "group wsscale"
            for d in /etc/wsscale /var/lib/wsscale /run/wsscale /run/haproxy/wsscale.sock \
                     /lib/systemd/system/haproxy.service.d/wsscale.conf /lib/systemd/system/redis-server.service.d/wsscale.conf; do
              [ -e "$d" ] && echo "path $d"; done
            systemctl list-units --all --plain --no-legend 'wsscale*' | sed 's/^/unit /'
            systemctl list-unit-files --plain --no-legend 'wsscale*' | sed 's/^/unit file /'
            pgrep -a -x wsscale | sed 's/^/process /'
            dpkg-query -W -f='${db:Status-Abbrev}\\n' wsscale 2>/dev/null | grep -v '^un' | sed 's/^/package /'
            true
            """)
        #expect(left.output.isEmpty, "left behind:\n\(left.output)")
        // Debian's units are back to their own configuration and still run.
        #expect(await stack.exec(["systemctl", "is-active", "haproxy.service", "redis-server.service"]).status == 0)
        // Put the deployment back for the other tests (nothing above throws once it is removed).
        let back = await stack.exec(["/opt/wsscale-systemd/install.sh", "--deb", "/opt/" + URL(fileURLWithPath: stack.package).lastPathComponent])
        let started = await stack.shell("systemctl restart haproxy.service && systemctl start wsscale.target")
        let answering = SystemdContainerStack.hasSystemdBackend ? await stack.waitForServices() : true
        #expect(back.status == 0 && started.status == 0 && answering, "reinstall: \(back.output) \(started.output)")
    }
}
}
