import Foundation
import Testing
import WSScaleTestSupport

extension RealStackTests.ComposeEngineTests {
/// The example chat under compose, as its README says to run it: `docker/compose.yml` with
/// `examples/chat/compose.yml` over it (`COMPOSE_FILE`), on docker-compose and podman-compose.
@Suite("your own app in the pool: the chat under compose")
struct OwnAppComposeTests {
    @Test("compose chat: a message from a user on server A reaches a user on server B, also after a rebalance moved one of them; down leaves nothing",
          arguments: RealStackTests.ComposeEngineTests.engines)
    func chat(_ compose: ComposeEngine) async throws {
        guard let image = OwnAppContainerStack.chatImage(compose.engine) else {
            print("SKIPPING the chat under \(compose): no chat image (the test command builds it with examples/chat/build-image.sh)")
            return
        }
        let override = DockerTestEnvironment.repositoryRoot.appendingPathComponent("examples/chat/compose.yml").path
        let settings = ["COMPOSE_FILE": "compose.yml:\(override)", "WSSCALE_CHAT_IMAGE": image, "MIN_INSTANCES": "2"]
        try await RealStackTests.ComposeEngineTests.withStack(compose, settings: settings) { stack in
            let api = stack.scenario.api
            try await TestSupport.waitUntil("two servers in rotation", timeout: .seconds(60)) {
                try await api.topology().active.count == 2
            }
            let (cli, pool) = (compose.engine.cli, stack.pool)
            let check = ChatCheck(trafficPort: stack.trafficPort) { host in
                // The server's drop, asked inside its container (its port is not published), with
                // the admin token the container already has in its environment.
                let script = """
                    import os, urllib.request as r
                    q = r.Request('http://127.0.0.1:8088/ws-session/\(host)/drop', method='POST',
                                  headers={'Authorization': 'Bearer ' + os.environ['WSSCALE_ADMIN_TOKEN']})
                    print(r.urlopen(q, timeout=5).status)
                    """
                let drop = cli.run(["exec", "\(pool)-\(host)", "/usr/bin/python3", "-c", script])
                guard drop.status == 0 else { throw StackAPIError("drop in \(pool)-\(host): \(drop.output)") }
            }
            let report = try await check.run()
            print("chat under \(compose): \(report)")
        }
    }

    @Test("compose: the seed's experiments with the chat behind every server (1: a burst, 2: gradual connects, 3: gradual disconnects, 4: Swiss cheese)",
          arguments: RealStackTests.ComposeEngineTests.engines, 1...4)
    func experiment(_ compose: ComposeEngine, _ number: Int) async throws {
        guard let image = OwnAppContainerStack.chatImage(compose.engine) else {
            print("SKIPPING the chat under \(compose): no chat image (the test command builds it with examples/chat/build-image.sh)")
            return
        }
        let override = DockerTestEnvironment.repositoryRoot.appendingPathComponent("examples/chat/compose.yml").path
        let settings = ["COMPOSE_FILE": "compose.yml:\(override)", "WSSCALE_CHAT_IMAGE": image]
        try await RealStackTests.ComposeEngineTests.withStack(compose, settings: settings) { stack in
            let scenario = stack.scenario
            try await TestSupport.waitUntil("one server in rotation", timeout: .seconds(60)) {
                try await scenario.api.topology().active.count == 1
            }
            try await OwnAppContainerStack.runExperiment(number, scenario, label: "\(compose), own app")
        }
    }
}
}
