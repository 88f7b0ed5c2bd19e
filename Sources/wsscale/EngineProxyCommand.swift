import ArgumentParser
import Foundation
import Logging
import WSScaleBackends
import WSScaleCore

/// `wsscale engine-proxy`: the Docker Engine API or Podman's libpod API, restricted to what
/// the balancer's Docker or Podman driver does for one pool (`EngineProxyPolicy`), in front
/// of the engine's socket.
struct EngineProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-proxy",
        abstract: "Serve the Docker or Podman (libpod) API restricted to one pool's calls (create from the image, on the network, by name prefix).",
        discussion: """
        Listens on WSSCALE_ENGINE_PROXY_HOST:WSSCALE_ENGINE_PROXY_PORT (127.0.0.1:2375). \
        WSSCALE_ENGINE_PROXY_ENGINE picks the engine: docker (the default) or podman.

        docker: forwards what it allows of the Docker Engine API to DOCKER_HOST \
        (unix:///var/run/docker.sock). It allows what the balancer with the same WSSCALE_POOL, \
        WSSCALE_DOCKER_IMAGE, WSSCALE_DOCKER_NETWORK, WSSCALE_DOCKER_PUBLISH_ADDRESS and \
        WSSCALE_COMPOSE_PROJECT would send.

        podman: forwards what it allows of the libpod API (/v4.x.y/libpod/… and /v5.x.y/libpod/…; \
        no Docker-compatible paths) to PODMAN_HOST (unix:///run/podman/podman.sock). It allows \
        what the balancer with --backend podman and the same WSSCALE_POOL, WSSCALE_PODMAN_IMAGE, \
        WSSCALE_PODMAN_NETWORK, WSSCALE_PODMAN_PUBLISH_ADDRESS and WSSCALE_COMPOSE_PROJECT would send.

        Everything else gets 403 with a reason (Sources/Backends/EngineProxy/README.md lists the rules).
        """
    )

    func run() async throws {
        var reader = try CommandEnvironment.reader(command: "engine-proxy")
        let settings = EngineProxySettings.read(from: &reader)
        let logLevel = LogLevelSetting.read(from: &reader)
        try CommandEnvironment.finish(reader, command: "engine-proxy")
        let logger = CommandEnvironment.logger(label: "wsscale.engine-proxy", level: logLevel)
        let server: EngineProxyServer
        do {
            server = try await EngineProxyServer.start(policy: settings.policy, host: settings.host, port: settings.port,
                                                       upstream: settings.driver.daemon, maximumConnections: settings.maximumConnections,
                                                       logger: logger)
        } catch {
            CommandEnvironment.printError("wsscale engine-proxy: cannot listen on \(settings.host):\(settings.port): \(error)")
            throw ExitCode(1)
        }
        // SIGTERM (compose's stop): in a compose project that is going down, the pool's
        // servers still running go first (ComposeProjectWarden), then the listener closes.
        let warden = ComposeProjectWarden(configuration: settings.driver, ownID: ProcessInfo.processInfo.hostName, logger: logger)
        let termination = TerminationSignals.onFirst { [server] in
            if let warden { await warden.finishIfProjectGoesDown() }
            try? await server.close()
        }
        try await server.waitUntilClosed()
        withExtendedLifetime(termination) {}
    }
}
