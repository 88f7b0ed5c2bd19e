import Foundation
import NIOCore
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests.DockerStackTests {
/// The whole stack of `docker/compose.yml` on the real daemon with the real image: redis,
/// HAProxy, the engine proxy, the balancer on the docker backend, the client simulator.
/// Each test brings up a project of its own (free ports on 127.0.0.1) and takes it down.
@Suite struct DockerComposeTests {
    /// `up`; the balancer launches the first server itself; users connect through the client
    /// simulator (127.0.0.1) and straight through HAProxy's published port (127.0.0.1); the pool
    /// scales out; `down` leaves no container, network or volume behind.
    @Test func upScaleOutDown() async throws {
        let stack = try await ComposeStack.up()
        var upgraded: [any Channel] = []
        do {
            // MIN_INSTANCES=1: the balancer launched the first server.
            let first = await TestSupport.eventually(timeout: .seconds(30)) {
                try await stack.topology().inRotation.count == 1
            }
            #expect(first, "the balancer puts its first server in rotation")
            let dashboard = await TestSupport.eventually(timeout: .seconds(30)) {
                try await RawHTTPClient.request("GET", "/health", port: stack.dashboardPort).status == 200
            }
            #expect(dashboard, "the dashboard answers /health on its published port 127.0.0.1:\(stack.dashboardPort)")

            // Straight through the published traffic port on 127.0.0.1.
            let traffic = Endpoint(host: "127.0.0.1", port: stack.trafficPort)
            for index in 0..<3 {
                upgraded.append(try await RawHTTPClient.openUpgradedConnection(traffic, path: "/api/v1/websocket/direct-\(index)", timeout: .seconds(5)))
            }
            // 20 users through the client simulator (its API on 127.0.0.1): 230 % of one server.
            try await stack.client.batch(connect: true, users: (0..<20).map { "smoke-\($0)" })

            let scaledOut = await TestSupport.eventually(timeout: .seconds(60)) {
                try await stack.topology().inRotation.count > 1
            }
            #expect(scaledOut, "the pool scales out past one server")
            // Rebalancing sheds sessions (4001) and the simulator's users reconnect: wait until
            // all 20 are connected and the registry counts them.
            let allConnected = await TestSupport.eventually(timeout: .seconds(30)) {
                let connected = try await stack.client.connectedUsers()
                let sessions = try await stack.topology().totalSessions
                return connected == 20 && sessions >= 20
            }
            #expect(allConnected, "the client simulator's 20 users are connected and registered")
            let topology = try await stack.topology()
            print("compose smoke: \(topology.instances.count) servers \(topology.instances.map { "\($0.id)=\($0.sessions)" }), \(topology.totalSessions) sessions")
            // The servers are the balancer's containers, on the project's network.
            let listed = DockerTestEnvironment.docker("ps", "--filter", "label=wsscale.pool=\(stack.pool)", "--format", "{{.Names}} {{.Networks}}").output
            let networkOf = Dictionary(listed.split(whereSeparator: \.isNewline).map { line in
                let words = line.split(separator: " ")
                return (String(words[0]), words.count > 1 ? String(words[1]) : "")
            }) { first, _ in first }
            for server in topology.inRotation {
                #expect(networkOf["\(stack.pool)-\(server.id)"] == stack.network,
                        "\(server.id) is the pool's container \(stack.pool)-\(server.id) on \(stack.network) only; listed: \(listed)")
            }
            if !scaledOut || !allConnected { print(await stack.logs()) }

            // Attack from outside: the published traffic port carries no admin path, and the
            // client simulator's published API wants the token compose made.
            for (method, path, expected) in [("GET", "/ws-session/all", 404), ("GET", "/metrics", 404),
                                             ("POST", "/ws-session/\(topology.instances[0].id)/drop", 405)] {
                let answer = try await RawHTTPClient.request(method, path, port: stack.trafficPort)
                print("attack compose: \(method) \(path) on the traffic port → \(answer.status)")
                #expect(answer.status == expected, "\(method) \(path) through HAProxy: \(answer.status) \(answer.body)")
            }
            let intruder = try await RawHTTPClient.request("POST", "/route/kickstart/ws/batch/disconnect", port: stack.clientPort,
                                                           headers: [("Content-Type", "application/json")],
                                                           body: #"{"userIds":["smoke-0"]}"#)
            print("attack compose: disconnect without the token → \(intruder.status)")
            #expect(intruder.status == 401, "\(intruder.status) \(intruder.body)")
            // Redis on the compose network: no default user, and nobody but the balancer holds the URLs.
            let anonymous = await stack.compose(["exec", "-T", "redis", "redis-cli", "-h", "127.0.0.1", "FLUSHALL"])
            print("attack compose: FLUSHALL without a Redis user → \(anonymous.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(anonymous.output.contains("NOAUTH"), "\(anonymous.output)")
            let clientSees = await stack.compose(["exec", "-T", "client", "ls", "/run/wsscale-balancer"])
            print("attack compose: the balancer's Redis URL folder from the client simulator → exit \(clientSees.status) \(clientSees.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120))")
            #expect(clientSees.status != 0, "the client simulator's container has no Redis URLs: \(clientSees.output)")
            let server = "\(stack.pool)-\(topology.instances[0].id)"

            // The admin surfaces with a wrong token and from a foreign Origin (with the right
            // token): the client simulator's and the dashboard's published APIs from here, a
            // server's drop endpoint from inside the client simulator's container on the
            // traffic network (the only way to reach it). The token stays off every command
            // line: the container reads it from its file, and printf is busybox sh's builtin.
            let token = try #require(stack.adminToken)
            let json = ("Content-Type", "application/json")
            let wrongToken = String(repeating: "0", count: 64)
            let wrong = ("Authorization", "Bearer \(wrongToken)")
            let foreign = [json, ("Authorization", "Bearer \(token)"), ("Origin", "http://evil.example")]
            var posts: [(attempt: RealStackTests.UpAttackTests.Attempt, expected: Int)] = []
            for (name, port, path, body) in [("client simulator connect", stack.clientPort, "/route/kickstart/ws/batch/connect", #"{"userIds":["mallory"]}"#),
                                             ("dashboard connect", stack.dashboardPort, "/api/connect", #"{"count":1,"prefix":"mallory"}"#)] {
                posts.append((try await RealStackTests.UpAttackTests.attempt("\(name), wrong token", "POST", path, port: port,
                                                                              headers: [json, wrong], body: body), 401))
                posts.append((try await RealStackTests.UpAttackTests.attempt("\(name), right token from a foreign Origin", "POST", path,
                                                                              port: port, headers: foreign, body: body), 403))
            }
            // The server by its container's name on the traffic network, on the image's port.
            let (serverID, serverPort) = (topology.instances[0].id, 8088)
            for (what, bearer, origin, expected) in [("wrong token", wrongToken, "", 401),
                                                     ("right token from a foreign Origin", "\"$(cat /run/wsscale-admin/admin-token)\"",
                                                      "Origin: http://evil.example\\r\\n", 403)] {
                // nc runs the exchange with the connection as its stdin and stdout: the request
                // out, the status line back (to stderr). Piping the request into nc instead
                // would half-close the connection at its end, and the server closes on that.
                let exchange = "printf \"POST /ws-session/%s/drop HTTP/1.1\\r\\nHost: %s:%s\\r\\nContent-Type: application/json\\r\\n"
                    + "\(origin)Authorization: Bearer %s\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}\" "
                    + "\(serverID) \(server) \(serverPort) \(bearer); head -n 1 >&2"
                let request = "busybox nc -w 5 \(server) \(serverPort) -e sh -c '\(exchange)' 2>&1"
                let answer = await stack.compose(["exec", "-T", "client", "busybox", "sh", "-c", request])
                let statusLine = answer.output.trimmingCharacters(in: .whitespacesAndNewlines)
                let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                posts.append((RealStackTests.UpAttackTests.Attempt(tried: "server \(server) drop from the client simulator's container, \(what)",
                                                                   status: status, body: statusLine), expected))
            }
            for (attempt, expected) in posts {
                print("attack compose: \(attempt)")
                #expect(attempt.status == expected, "\(attempt)")
            }
            let usersAfter = try await stack.client.connectedUsers()
            #expect(usersAfter == 20, "no user was added or dropped: \(usersAfter) connected")

            // Attack from a server's container (what a compromised server could reach): not
            // HAProxy's runtime API (no TCP listener; its socket is in the state folder's
            // haproxy-admin/, bind-mounted into HAProxy and the balancer only), not the engine
            // proxy (on the control network only).
            let proxyContainer = await stack.compose(["ps", "-q", "engine-proxy"]).output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            let proxyAddress = DockerTestEnvironment.docker(
                "inspect", "-f", "{{(index .NetworkSettings.Networks \"\(stack.network)_control\").IPAddress}}", proxyContainer,
            ).output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!proxyAddress.isEmpty, "the engine proxy's address on the control network")
            let attempts: [(what: String, command: String)] = [
                ("HAProxy's runtime API over TCP", "echo 'show info' | busybox nc -w 3 haproxy 9999"),
                ("HAProxy's runtime socket", "ls /run/haproxy-admin"),
                ("the engine proxy by name", "getent hosts engine-proxy"),
                ("the engine proxy by address", "printf 'GET /_ping HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 \(proxyAddress) 2375"),
            ]
            for attempt in attempts {
                let tried = DockerTestEnvironment.docker("exec", server, "busybox", "sh", "-c", attempt.command)
                print("attack compose: \(attempt.what) from server \(server) → exit \(tried.status) \(tried.output.prefix(200))")
                #expect(tried.status != 0 && !tried.output.contains("Version:") && !tried.output.contains("OK"),
                        "\(attempt.what) reached from a server: \(tried.output)")
            }
            // Redis as the server's own user, from inside its container (what a compromised
            // server holds: its REDIS_URL). The table is the one `wsscale up`'s attack uses.
            // The password stays in the container: parsed from its environment, sent by printf.
            let refusals = RealStackTests.UpAttackTests.refusedToAServer(prefix: "wsscale", other: "ws-other")
            let inline = refusals.map { command in
                "'" + command.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ") + "'"
            }
            let asServer = DockerTestEnvironment.docker("exec", server, "busybox", "sh", "-c", """
                u=${REDIS_URL#redis://}; user=${u%%:*}; rest=${u#*:}; password=${rest%%@*}; address=${rest#*@}; address=${address%%/*}
                { printf 'AUTH %s %s\\r\\n' "$user" "$password"; printf '%s\\r\\n' \(inline.joined(separator: " ")) QUIT; } \
                  | busybox nc -w 5 ${address%:*} ${address##*:}
                """)
            let replies = asServer.output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            print("attack compose: redis AUTH as server \(server)'s own user → \(replies.first ?? "no answer (exit \(asServer.status))")")
            #expect(replies.first == "+OK", "the server's user logs in: \(asServer.output.prefix(300))")
            for (index, command) in refusals.enumerated() {
                let reply = index + 1 < replies.count ? replies[index + 1] : "no answer"
                print("attack compose: redis as server \(server)'s own user: \(command.joined(separator: " ")) → \(reply.prefix(100))")
                #expect(reply.hasPrefix("-NOPERM"), "\(command.joined(separator: " ")) → \(reply)")
            }
            let fromClient = await stack.compose(["exec", "-T", "client", "busybox", "sh", "-c",
                                                  "printf 'GET /_ping HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 \(proxyAddress) 2375"])
            print("attack compose: the engine proxy from the client simulator → exit \(fromClient.status)")
            #expect(fromClient.status != 0, "the client simulator reached the engine proxy: \(fromClient.output)")

            // A fake server: a container with the pool's label on the traffic network, made
            // behind the balancer's back, answering /health. It is refused, never in rotation.
            let fake = "fake-\(stack.pool)"
            let made = DockerTestEnvironment.docker("run", "-d", "--name", fake, "--network", stack.network,
                                                    "--label", "wsscale.pool=\(stack.pool)", "--label", "wsscale.instance=fake",
                                                    "--label", "wsscale.port=8088", "-e", "SERVER_HOST=0.0.0.0", "-e", "SERVER_ID=fake",
                                                    DockerTestEnvironment.productImage, "server")
            #expect(made.status == 0, "docker run: \(made.output)")
            let refused = await TestSupport.eventually(timeout: .seconds(30)) {
                await stack.compose(["logs", "balancer"]).output.contains("container=\(fake)")
            }
            let afterFake = try await stack.topology()
            print("attack compose: fake labelled container \(fake) → refused \(refused), in rotation: \(afterFake.inRotation.map(\.id))")
            #expect(refused, "the balancer names the fake container it does not adopt")
            #expect(!afterFake.instances.contains { $0.id == "fake" || $0.id == fake })
            // Not the project's: `down` leaves what it did not make, so the test removes it.
            DockerTestEnvironment.docker("rm", "-f", fake)

            // A restarted balancer adopts the servers.
            let servers = Set(topology.instances.map(\.id))
            let restart = await stack.compose(["restart", "balancer"])
            #expect(restart.status == 0, "compose restart balancer: \(restart.output)")
            let adopted = await TestSupport.eventually(timeout: .seconds(30)) {
                try await Set(stack.topology().inRotation.map(\.id)).isSuperset(of: servers)
            }
            #expect(adopted, "the restarted balancer has the same servers in rotation")
            let stillConnected = await TestSupport.eventually(timeout: .seconds(30)) {
                try await stack.client.connectedUsers() == 20
            }
            #expect(stillConnected, "the 20 users are connected after the balancer's restart")
        } catch {
            print(await stack.logs())
            for channel in upgraded { try? await channel.close() }
            await stack.down()
            throw error
        }
        for channel in upgraded { try? await channel.close() }
        let down = await stack.down()
        #expect(down.status == 0, "compose down: \(down.output)")
        #expect(stack.leftovers().isEmpty, "left behind: \(stack.leftovers())")
    }
}
}
