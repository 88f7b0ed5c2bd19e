#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import WSScaleCore

/// How `wsscale server` starts the team's own app behind its front door.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `WSSCALE_APP_COMMAND` | none | the app, as a shell command (`/bin/sh -c 'exec COMMAND'`; without `exec` when it is compound), when no `-- COMMAND ARGS…` is given |
/// | `APP_HEALTH_CHECK` | `tcp` | when the app is up: `tcp` (its port takes a connection) or an HTTP path such as `/health` (a 2xx answer) |
/// | `APP_START_TIMEOUT_SECONDS` | `30` | how long the app has to pass its health check before the server gives up (exit status 3) |
/// | `APP_STOP_GRACE_SECONDS` | `5` | after the server's sessions are closed, how long the app has between SIGTERM and SIGKILL |
public struct AppLaunchSettings: Sendable, Equatable, EnvironmentSettings {
    /// `WSSCALE_APP_COMMAND`, if set.
    public var shellCommand: String?
    /// When the app counts as up.
    public var healthCheck: AppHealthCheck
    /// How long the app has to pass it.
    public var startTimeout: Duration
    /// The app's time between SIGTERM and SIGKILL when the server stops.
    public var stopGrace: Duration

    /// Creates settings.
    public init(shellCommand: String? = nil, healthCheck: AppHealthCheck = .tcp, startTimeout: Duration = .seconds(30),
                stopGrace: Duration = .seconds(5)) {
        self.shellCommand = shellCommand
        self.healthCheck = healthCheck
        self.startTimeout = startTimeout
        self.stopGrace = stopGrace
    }

    public static func read(from reader: inout EnvironmentReader) -> AppLaunchSettings {
        let command = reader.raw("WSSCALE_APP_COMMAND").flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let checkText = reader.string("APP_HEALTH_CHECK", default: "tcp")
        var check = AppHealthCheck.tcp
        switch AppHealthCheck.parse(checkText) {
        case .some(let parsed): check = parsed
        case .none: reader.report("APP_HEALTH_CHECK", "must be tcp or an HTTP path starting with /, got \"\(checkText)\"")
        }
        let start = reader.seconds("APP_START_TIMEOUT_SECONDS", default: .seconds(30), in: 0.1...3600)
        let stop = reader.seconds("APP_STOP_GRACE_SECONDS", default: .seconds(5), in: 0...3600)
        return AppLaunchSettings(shellCommand: command, healthCheck: check, startTimeout: start, stopGrace: stop)
    }

    /// The app's environment: the server's, without the server's own secrets (its registry
    /// address and password, the admin token): the app has its own.
    public static func appEnvironment(from environment: [String: String]) -> [String: String] {
        environment.filter { name, _ in
            let upper = name.uppercased()
            if upper.hasPrefix("REDIS_") { return false }
            if upper.hasPrefix("WSSCALE_"), ["TOKEN", "SECRET", "PASSWORD"].contains(where: upper.contains) { return false }
            return true
        }
    }

    /// The command line to start: `arguments` when given (`wsscale server -- COMMAND ARGS…`),
    /// else `WSSCALE_APP_COMMAND` through `/bin/sh`, else `nil` (no app).
    public func commandLine(arguments: [String]) -> [String]? {
        if !arguments.isEmpty { return arguments }
        guard let shellCommand else { return nil }
        // One simple command replaces the shell (`exec`), so the app itself gets the signals;
        // a compound one (`;`, `&&`, a pipe …) runs under the shell.
        let compound = shellCommand.contains { ";&|\n`$(".contains($0) }
        return ["/bin/sh", "-c", compound ? shellCommand : "exec " + shellCommand]
    }
}

/// When an app counts as up.
public enum AppHealthCheck: Sendable, Equatable, CustomStringConvertible {
    /// Its port takes a TCP connection.
    case tcp
    /// `GET path` answers 2xx.
    case http(path: String)

    /// `tcp`, or a path starting with `/`; `nil` for anything else.
    public static func parse(_ text: String) -> AppHealthCheck? {
        if text == "tcp" { return .tcp }
        guard text.hasPrefix("/"), !text.contains(" "), text.utf8.count <= 1024 else { return nil }
        return .http(path: text)
    }

    public var description: String {
        switch self {
        case .tcp: return "a TCP connect"
        case .http(let path): return "GET \(path) answering 2xx"
        }
    }
}

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
        let arguments = commandLine.map { $0.replacingOccurrences(of: AppUpstreamPlaceholder.port, with: String(port)) }
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

/// The placeholder of the app's port in its arguments and in `APP_UPSTREAM_URL`.
public enum AppUpstreamPlaceholder {
    /// `{port}`.
    public static let port = "{port}"
}
