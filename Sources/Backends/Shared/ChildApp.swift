#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import WSScaleCore

/// The team's app, started by `wsscale server` as its child on a free loopback port.
///
/// The app gets the port as `PORT` in its environment and wherever `{port}` stands in its
/// arguments; its output goes where the server's goes (the instance's log, the journal, the
/// container's log). It stays in the server's process group, so a SIGKILL of the server's
/// group (the process backend's last resort, systemd's and the container engines' own)
/// ends it too, while a SIGTERM to the server alone lets the server drain first.
public final class ChildApp: Sendable {
    /// The app's process.
    public let process: LocalProcess
    /// The port it was given.
    public let port: Int
    /// Its command line, for messages.
    public let commandLine: [String]

    private init(process: LocalProcess, port: Int, commandLine: [String]) {
        self.process = process
        self.port = port
        self.commandLine = commandLine
    }

    /// Why the app could not be started.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        /// What happened, naming the app.
        public var description: String
    }

    /// Starts the app and waits until it passes its health check.
    /// - Parameters:
    ///   - commandLine: the program and its arguments (`{port}` replaced).
    ///   - settings: the health check and its time limit.
    ///   - environment: the app's environment (`PORT` is added).
    ///   - logger: where it logs.
    /// - Throws: `StartError` when no port is free, the app cannot be started, exits, or does
    ///   not pass its health check in time (it is then stopped).
    public static func start(commandLine: [String], settings: AppLaunchSettings, environment: [String: String],
                             logger: Logger) async throws -> ChildApp {
        guard let port = LoopbackPort.free() else { throw StartError(description: "no free loopback port for the app") }
        let arguments = commandLine.map { $0.replacingOccurrences(of: AppUpstream.portPlaceholder, with: String(port)) }
        var environment = environment
        environment["PORT"] = String(port)
        let shown = arguments.joined(separator: " ")
        let process: LocalProcess
        do {
            process = try LocalProcess.spawn(executable: arguments[0], arguments: Array(arguments.dropFirst()),
                                             environment: environment, outputPath: nil, inheritsOutput: true,
                                             ownProcessGroup: false)
        } catch {
            throw StartError(description: "the app `\(shown)`: \(error)")
        }
        let app = ChildApp(process: process, port: port, commandLine: arguments)
        logger.info("started the app", metadata: ["app": "\(shown)", "pid": "\(process.pid)", "port": "\(port)"])
        let clock = ContinuousClock()
        let deadline = clock.now + settings.startTimeout
        while true {
            if let status = process.exitStatusIfEnded() {
                throw StartError(description: "the app `\(shown)` \(status) before passing its health check (\(settings.healthCheck) on port \(port))")
            }
            if await isHealthy(port: port, check: settings.healthCheck) { break }
            if Task.isCancelled {
                _ = await process.terminate(grace: settings.stopGrace)
                throw StartError(description: "the app `\(shown)` was stopped before it passed its health check (the server was told to stop)")
            }
            if clock.now >= deadline {
                _ = await process.terminate(grace: .seconds(1))
                throw StartError(description: "the app `\(shown)` did not pass its health check (\(settings.healthCheck) on port \(port)) within \(settings.startTimeout)")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        logger.info("the app is up", metadata: ["app": "\(shown)", "port": "\(port)"])
        return app
    }

    /// Whether the app on `port` passes `check` now.
    static func isHealthy(port: Int, check: AppHealthCheck) async -> Bool {
        let endpoint = Endpoint(host: "127.0.0.1", port: port)
        switch check {
        case .tcp:
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(1))
                    .connect(host: endpoint.host, port: endpoint.port).get()
                try? await channel.close()
                return true
            } catch {
                return false
            }
        case .http(let path):
            guard let status = await HTTPHealthProbe().get(endpoint, path: path) else { return false }
            return (200..<300).contains(status)
        }
    }

    /// Waits until the app exits (polling every 50 ms); throws `CancellationError` when cancelled.
    public func waitForExit() async throws -> ProcessExitStatus {
        while true {
            if let status = process.exitStatusIfEnded() { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the app: SIGTERM, up to `grace`, then SIGKILL.
    /// - Returns: how it ended, or `nil` if it survived SIGKILL.
    public func stop(grace: Duration) async -> ProcessExitStatus? {
        if let status = process.exitStatusIfEnded() { return status }
        kill(process.pid, SIGTERM)
        if let status = await process.waitForExit(within: grace) { return status }
        kill(process.pid, SIGKILL)
        return await process.waitForExit(within: .seconds(5))
    }

    /// The exit status a server passes on for an app that ended this way: its code, or 128
    /// plus the signal that ended it, as a shell reports it.
    public static func exitCode(for status: ProcessExitStatus) -> Int32 {
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        case .unknown: return 1
        }
    }
}
