import ArgumentParser
import Foundation
import Logging
import WSScaleBalancer
import WSScaleCore

/// What every subcommand starts from: the environment with `./.env` underneath it, a logger,
/// and one way to stop on bad configuration (every issue printed, exit status 2).
enum CommandEnvironment {
    /// Exit status for an invalid configuration.
    static let invalidConfiguration = ExitCode(2)

    /// A reader over the process environment and `./.env`.
    static func reader(command: String) throws -> EnvironmentReader {
        EnvironmentReader(environment: ProcessInfo.processInfo.environment, dotEnv: try dotEnv(command: command))
    }

    /// Throws exit status 2 after printing every issue the reader collected.
    static func finish(_ reader: EnvironmentReader, command: String) throws {
        do {
            try reader.finish()
        } catch let error as ConfigurationError {
            report(error, command: command)
            throw invalidConfiguration
        }
    }

    /// Prints every issue of `error`, each naming its variable.
    static func report(_ error: ConfigurationError, command: String) {
        for issue in error.issues { printError("wsscale \(command): \(issue)") }
    }

    /// Sets up logging to standard error at `level` (`LOG_LEVEL`, read with the command's other
    /// settings by `LogLevelSetting`) and returns a logger.
    static func logger(label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }

    /// Stops with exit status 2 and `SystemdServiceGuard`'s message when `command` would run the
    /// process backend while it is a systemd service (every server would die with the service).
    static func refuseProcessBackendUnderSystemd(command: String, backend: BackendKind) throws {
        let underSystemd = SystemdServiceGuard.runsAsSystemdService(
            environment: ProcessInfo.processInfo.environment, pid: getpid(), parentPid: getppid())
        if let refusal = SystemdServiceGuard.refusal(command: command, backend: backend, underSystemd: underSystemd) {
            printError(refusal)
            throw invalidConfiguration
        }
    }

    /// Writes one line to standard error.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The text of `.env` in the working directory, `nil` when there is none.
    static func dotEnv(command: String) throws -> String? {
        let path = FileManager.default.currentDirectoryPath + "/.env"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            printError("wsscale \(command): .env: cannot be read at \(path): \(error.localizedDescription)")
            throw invalidConfiguration
        }
    }
}
