import ArgumentParser
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import WSScaleBackends
import WSScaleCore
import WSScaleServer

/// `wsscale server`: one WebSocket application server of the pool, configured by the environment.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a WebSocket application server (configured by environment variables).",
        discussion: """
        Environment (a .env file in the working directory is read underneath it):
          SERVER_ID                 this server's id (default: random ws-xxxxxx)
          SERVER_HOST               listen address (default 127.0.0.1)
          SERVER_PORT               listen port (default 8088)
          MAX_CONNECTIONS_PER_HOST  hard limit; one more is closed with 1013 (default 30)
          SHUTDOWN_GRACE_SECONDS    time from SIGTERM to exit (default 10)
          REDIS_URL                 session registry (default redis://127.0.0.1:6379/0;
                                    redis+sentinel://host:port,.../master follows the master
                                    Redis Sentinels name; memory:// keeps it inside this
                                    process: one server, no Redis)
          REDIS_KEY_PREFIX          registry key prefix (default wsscale)
          LEASE_SECONDS             this host's lease in the registry (default 5)
        In front of your own WebSocket app (the front door):
          APP_UPSTREAM_URL          ws://HOST:PORT/PATH of the app; {userId} in the path is the
                                    user's id, {port} the port of the app this server starts
          APP_FORWARD_HEADERS       client headers the app gets (default
                                    Cookie,Authorization,Origin,User-Agent)
          APP_CONNECT_TIMEOUT_SECONDS  connect + upgrade at the app (default 5; 504 past it)
          WSSCALE_APP_COMMAND       the app to start, as a shell command, when no -- COMMAND
          APP_HEALTH_CHECK          tcp (default) or an HTTP path such as /health
          APP_START_TIMEOUT_SECONDS time the app has to pass its health check (default 30)
          APP_STOP_GRACE_SECONDS    app's time between SIGTERM and SIGKILL at the end (default 5)
        The app gets PORT (and {port} in its arguments). When it exits, the server closes its
        sessions and exits with the app's status.
        Exit status 2 on a configuration error, 3 when the app does not come up.
        """
    )

    @Argument(parsing: .postTerminator,
              help: "Your WebSocket app and its arguments, after --, started on a free port behind this server.")
    var app: [String] = []

    func run() async throws {
        var configuration: ServerConfiguration
        let launch: AppLaunchSettings
        let environment = ProcessInfo.processInfo.environment
        do {
            var reader = EnvironmentReader(environment: environment, dotEnv: try CommandEnvironment.dotEnv(command: "server"))
            configuration = ServerConfiguration.read(from: &reader)
            launch = AppLaunchSettings.read(from: &reader)
            let commandLine = launch.commandLine(arguments: app)
            if commandLine != nil, configuration.appUpstream == nil, reader.raw("APP_UPSTREAM_URL") == nil {
                reader.report("APP_UPSTREAM_URL", "must say where the app takes sessions, such as ws://127.0.0.1:{port}/ws/{userId}, when the server starts an app")
            }
            if commandLine == nil, let upstream = configuration.appUpstream, upstream.port == nil {
                reader.report("APP_UPSTREAM_URL", "names {port}, the port of an app this server starts, but no app is given (wsscale server -- COMMAND, or WSSCALE_APP_COMMAND)")
            }
            try reader.finish()
        } catch let error as ConfigurationError {
            CommandEnvironment.report(error, command: "server")
            throw CommandEnvironment.invalidConfiguration
        }
        var logger = CommandEnvironment.logger(label: "wsscale.server", level: configuration.logLevel)
        logger[metadataKey: "serverId"] = "\(configuration.serverId)"

        var child: ChildApp?
        if let commandLine = launch.commandLine(arguments: app) {
            // A SIGTERM while the app starts (the balancer gave up on this launch) stops it and
            // exits; the service group watches the signals once the server runs.
            let starting = Task { [logger] in
                try await ChildApp.start(commandLine: commandLine, settings: launch,
                                         environment: AppLaunchSettings.appEnvironment(from: environment), logger: logger)
            }
            let signals = TerminationSignals.onFirst { starting.cancel() }
            defer { withExtendedLifetime(signals) {} }
            do {
                let started = try await starting.value
                configuration.appUpstream = configuration.appUpstream?.resolvingPort(started.port)
                child = started
            } catch {
                CommandEnvironment.printError("wsscale server: \(error)")
                throw ExitCode(3)
            }
        }

        let store: any HostSessionStore
        do {
            store = try makeHostSessionStore(configuration: configuration, logger: logger)
        } catch {
            CommandEnvironment.printError("wsscale server: \(error)")
            throw CommandEnvironment.invalidConfiguration
        }
        let server = WebSocketServer(configuration: configuration, store: store, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: HostSessionStoreService(store: store)),
            .init(service: server),
        ]
        let watch = child.map { AppExitWatch(app: $0, logger: logger) }
        if let watch {
            // The app's own exit ends the group gracefully: sessions close, then the server exits.
            services.append(.init(service: watch, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            if let child { _ = await child.stop(grace: launch.stopGrace) }
            throw error
        }
        guard let child, let watch else { return }
        if let status = watch.exitedOnItsOwn {
            throw ExitCode(ChildApp.exitCode(for: status))
        }
        let status = await child.stop(grace: launch.stopGrace)
        logger.info("stopped the app", metadata: ["status": "\(status.map { "\($0)" } ?? "survived SIGKILL")"])
    }
}

/// Waits for the app the server started to exit on its own; it then ends (and its group shuts
/// down gracefully). On the group's graceful shutdown it ends without touching the app, which
/// the server stops once its sessions are closed.
final class AppExitWatch: Service, @unchecked Sendable {
    private let app: ChildApp
    private let logger: Logger
    private let lock = NSLock()
    private var status: ProcessExitStatus?

    init(app: ChildApp, logger: Logger) {
        self.app = app
        self.logger = logger
    }

    /// How the app ended, when it ended by itself.
    var exitedOnItsOwn: ProcessExitStatus? {
        lock.withLock { status }
    }

    func run() async throws {
        do {
            let ended = try await cancelWhenGracefulShutdown { try await self.app.waitForExit() }
            lock.withLock { status = ended }
            logger.error("the app exited; closing every session and exiting with its status",
                         metadata: ["app": "\(app.commandLine.joined(separator: " "))", "status": "\(ended)"])
        } catch is CancellationError {
            return
        }
    }
}

/// Makes this server's registry store.
///
/// `REDIS_URL=memory://` gives a registry inside this process (one server, no Redis: trials and
/// benchmarks); any other URL gives the Redis store, which connects (and reconnects) in the
/// background so the server serves even while Redis is away.
func makeHostSessionStore(configuration: ServerConfiguration, logger: Logger) throws -> any HostSessionStore {
    if configuration.redisURL == ServerConfiguration.inMemoryRegistryURL {
        return InMemoryHostSessionStore(hostId: configuration.serverId)
    }
    let url = try RedisURL(parsing: configuration.redisURL, variable: "REDIS_URL")
    return RedisHostSessionStore(url: url, keyPrefix: configuration.redisKeyPrefix, host: configuration.serverId,
                                 leaseDuration: configuration.lease, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                 logger: logger)
}
