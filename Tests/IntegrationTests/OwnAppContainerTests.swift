import Foundation
import Testing
import WSScaleTestSupport

/// The example chat's app image (`examples/chat/Dockerfile`: the app, and `wsscale server` in
/// front of it as the entrypoint) as the pool's servers, on a container backend: the balancer
/// names the image (`WSSCALE_DOCKER_IMAGE`, `WSSCALE_PODMAN_IMAGE`) and hands the chat its
/// Redis address (`WSSCALE_APP_ENV=CHAT_REDIS_URL`: a database of the stack's Redis container).
enum OwnAppContainerStack {
    /// The app image the test command built for an engine (`WSSCALE_DOCKER_CHAT_IMAGE`,
    /// `WSSCALE_PODMAN_CHAT_IMAGE`), if it did.
    static func chatImage(_ engine: StackEngine) -> String? {
        ProcessInfo.processInfo.environment["WSSCALE_\(stem(engine))_CHAT_IMAGE"]
    }

    /// The stem of the engine's variables: swarm services are Docker's (`WSSCALE_DOCKER_IMAGE`).
    static func stem(_ engine: StackEngine) -> String {
        engine.isSwarm ? "DOCKER" : engine.backend.uppercased()
    }

    /// The balancer's settings that run the chat image with its Redis.
    static func settings(_ engine: StackEngine, image: String, _ extra: [String: String] = [:]) -> [String: String] {
        ["WSSCALE_\(stem(engine))_IMAGE": image, "WSSCALE_APP_ENV": "CHAT_REDIS_URL",
         "CHAT_REDIS_URL": "redis://{stack}-redis:6379/1"].merging(extra) { $1 }
    }

    /// Runs `body` on the scenarios of a fresh stack of chat servers, then checks nothing is left.
    static func withStack<Result>(_ engine: StackEngine, _ extra: [String: String] = [:],
                                  _ body: (ContainerBackendStack, StackScenario) async throws -> Result) async throws -> Result {
        let image = try #require(chatImage(engine), "the test command builds the chat image (examples/chat/build-image.sh)")
        let (result, left) = try await ContainerBackendStack.run(engine: engine, settings: settings(engine, image: image, extra)) { stack in
            try await body(stack, StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                                                killServer: { id in try stack.killServer(id) }))
        }
        #expect(left.isEmpty, "left behind: \(left)")
        return result
    }

    /// The seed's experiment `number` (1–4) on a fresh stack of chat servers, with its checks.
    static func experiment(_ number: Int, on engine: StackEngine) async throws {
        try await withStack(engine) { _, scenario in try await runExperiment(number, scenario, label: "\(engine.backend), own app") }
    }

    /// Runs experiment `number` on `scenario` and checks what the seed's experiments check.
    static func runExperiment(_ number: Int, _ scenario: StackScenario, label: String) async throws {
        switch number {
        case 1:
            let report = try await scenario.burstOfUsers(40)
            print("\(label), experiment 1: all 40 connected after \(report.timeToAllConnected), highest \(report.highestSessions)")
            #expect(report.refusedByFirstServer == 0)
            #expect(report.highestSessions <= 30)
        case 2:
            let report = try await scenario.gradualConnects(total: 40, batch: 5)
            print("\(label), experiment 2: active servers after each batch \(report.serversAfterBatch)")
            #expect(report.serversAfterBatch.last ?? 0 >= 5)
        case 3:
            let report = try await scenario.gradualDisconnects(total: 40, batch: 5)
            print("\(label), experiment 3: drained \(report.drained.sorted())")
            #expect(!report.drained.isEmpty)
        default:
            let report = try await scenario.swissCheese(total: 40, timeout: .seconds(10))
            print("\(label), experiment 4: settled after \(report.settleTime)")
            #expect(report.settleTime < .seconds(10))
        }
    }

    /// The chat check on a stack with two servers: A to B, and again after B's user was moved.
    static func chatAcrossServers(_ engine: StackEngine) async throws {
        try await withStack(engine, ["MIN_INSTANCES": "2"]) { stack, scenario in
            try await TestSupport.waitUntil("two servers in rotation", timeout: .seconds(60)) {
                try await stack.topology().inRotation.count == 2
            }
            let check = ChatCheck(trafficPort: stack.trafficPort) { host in
                let server = try await scenario.api.topology().instances.first { $0.id == host }
                let port = try #require(server?.endpoint?.port)
                let answer = try await RawHTTPClient.request("POST", "/ws-session/\(host)/drop", port: port,
                                                             headers: [("Authorization", "Bearer \(TestSupport.adminToken)")])
                guard answer.status == 200 else { throw StackAPIError("drop on \(host) answered \(answer.status)") }
            }
            let report = try await check.run()
            print("chat on \(engine.backend): \(report)")
        }
    }
}

extension RealStackTests.DockerStackTests {
@Suite("your own app in the pool: the chat image on Docker",
       .enabled(if: OwnAppContainerStack.chatImage(.docker) != nil, "needs WSSCALE_DOCKER_CHAT_IMAGE (the test command builds it)"))
struct OwnAppDockerTests {
    @Test("docker chat: a message from a user on server A reaches a user on server B, also after a rebalance moved one of them")
    func chat() async throws {
        try await OwnAppContainerStack.chatAcrossServers(.docker)
    }

    @Test("docker: the seed's experiments with the app (1: a burst, 2: gradual connects, 3: gradual disconnects, 4: Swiss cheese)",
          arguments: 1...4)
    func experiment(_ number: Int) async throws {
        try await OwnAppContainerStack.experiment(number, on: .docker)
    }
}
}

extension RealStackTests.PodmanStackTests {
@Suite("your own app in the pool: the chat image on Podman",
       .enabled(if: OwnAppContainerStack.chatImage(.podman) != nil, "needs WSSCALE_PODMAN_CHAT_IMAGE (the test command builds it)"))
struct OwnAppPodmanTests {
    @Test("podman chat: a message from a user on server A reaches a user on server B, also after a rebalance moved one of them")
    func chat() async throws {
        try await OwnAppContainerStack.chatAcrossServers(.podman)
    }

    @Test("podman: the seed's experiments with the app (1: a burst, 2: gradual connects, 3: gradual disconnects, 4: Swiss cheese)",
          arguments: 1...4)
    func experiment(_ number: Int) async throws {
        try await OwnAppContainerStack.experiment(number, on: .podman)
    }
}
}

extension RealStackTests.SwarmStackTests {
@Suite("your own app in the pool: the chat image as swarm services",
       .enabled(if: OwnAppContainerStack.chatImage(.swarm) != nil, "needs WSSCALE_DOCKER_CHAT_IMAGE (the test command builds it)"))
struct OwnAppSwarmTests {
    @Test("swarm chat: a message from a user on server A reaches a user on server B, also after a rebalance moved one of them")
    func chat() async throws {
        try await OwnAppContainerStack.chatAcrossServers(.swarm)
    }

    @Test("swarm: the seed's experiments with the app (1: a burst, 2: gradual connects, 3: gradual disconnects, 4: Swiss cheese)",
          arguments: 1...4)
    func experiment(_ number: Int) async throws {
        try await OwnAppContainerStack.experiment(number, on: .swarm)
    }
}
}
