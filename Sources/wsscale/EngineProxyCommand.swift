import ArgumentParser
import Foundation
import Logging
import WSScaleBackends
import WSScaleCore

/// `wsscale engine-proxy`: the Docker Engine API, restricted to what the balancer's Docker
/// driver does for one pool (`EngineProxyPolicy`), in front of the daemon's socket.
struct EngineProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-proxy",
        abstract: "Serve the Docker Engine API restricted to one pool's calls (create from the image, on the network, by name prefix).",
        discussion: """
        Listens on WSSCALE_ENGINE_PROXY_HOST:WSSCALE_ENGINE_PROXY_PORT (127.0.0.1:2375) and forwards \
        what it allows to DOCKER_HOST (unix:///var/run/docker.sock). It allows what the balancer with \
        the same WSSCALE_POOL, WSSCALE_DOCKER_IMAGE, WSSCALE_DOCKER_NETWORK and \
        WSSCALE_DOCKER_PUBLISH_ADDRESS would send; everything else gets 403 with a reason \
        (docker/engine-proxy/README.md lists the rules).
        """
    )

    func run() async throws {
        var reader = try CommandEnvironment.reader(command: "engine-proxy")
        let host = reader.string("WSSCALE_ENGINE_PROXY_HOST", default: "127.0.0.1", rule: SettingRule.hostProblem)
        let port = reader.int("WSSCALE_ENGINE_PROXY_PORT", default: 2375, in: 1...65535)
        let connections = reader.int("WSSCALE_ENGINE_PROXY_MAX_CONNECTIONS", default: 64, in: 1...4096)
        let driver = ContainerDriverConfiguration.read(from: &reader, engine: .docker)
        try CommandEnvironment.finish(reader, command: "engine-proxy")
        let logger = CommandEnvironment.logger(label: "wsscale.engine-proxy")
        let server: EngineProxyServer
        do {
            server = try await EngineProxyServer.start(policy: EngineProxyPolicy(configuration: driver), host: host, port: port,
                                                       upstream: driver.daemon, maximumConnections: connections, logger: logger)
        } catch {
            CommandEnvironment.printError("wsscale engine-proxy: cannot listen on \(host):\(port): \(error)")
            throw ExitCode(1)
        }
        // SIGTERM (compose's stop): in a compose project that is going down, the pool's
        // servers still running go first (ComposeProjectWarden), then the listener closes.
        let warden = ComposeProjectWarden(configuration: driver, ownID: ProcessInfo.processInfo.hostName, logger: logger)
        let termination = TerminationSignals.onFirst { [server] in
            if let warden { await warden.finishIfProjectGoesDown() }
            try? await server.close()
        }
        try await server.waitUntilClosed()
        withExtendedLifetime(termination) {}
    }
}
