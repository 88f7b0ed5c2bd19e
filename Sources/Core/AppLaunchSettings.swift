import Foundation

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
