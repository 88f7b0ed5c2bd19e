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
        Exit status 2 on a configuration error.
        """
    )

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.read(environment: ProcessInfo.processInfo.environment,
                                                                    dotEnv: try CommandEnvironment.dotEnv(command: "server"))
        } catch let error as ConfigurationError {
            CommandEnvironment.report(error, command: "server")
            throw CommandEnvironment.invalidConfiguration
        }
        var logger = CommandEnvironment.logger(label: "wsscale.server", level: configuration.logLevel)
        logger[metadataKey: "serverId"] = "\(configuration.serverId)"

        let store: any HostSessionStore
        do {
            store = try makeHostSessionStore(configuration: configuration, logger: logger)
        } catch {
            CommandEnvironment.printError("wsscale server: \(error)")
            throw CommandEnvironment.invalidConfiguration
        }
        let server = WebSocketServer(configuration: configuration, store: store, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: HostSessionStoreService(store: store)),
                .init(service: server),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        try await ServiceGroup(configuration: groupConfiguration).run()
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
