import ArgumentParser
import Foundation
import WSScaleCore

/// `wsscale balancer`: scales the pool of WebSocket servers by their connections.
///
/// Its configuration comes from the environment and from `.env` in the working directory
/// (the environment wins). `--check-config` prints the effective configuration and exits.
struct BalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balancer",
        abstract: "Scale the pool of WebSocket servers by their number of connections.",
        discussion: """
        Configuration is read from the environment and from .env in the working directory \
        (the environment wins): \(ScalingConfiguration.Variable.allCases.map(\.rawValue).joined(separator: ", ")).
        """
    )

    /// Exit status for an invalid configuration.
    static let invalidConfigurationExitCode = ExitCode(2)

    @Flag(name: .customLong("check-config"),
          help: "Print the effective configuration (NAME=value per line) and exit 0, or the errors and exit 2.")
    var checkConfig = false

    func run() async throws {
        let scaling = try Self.loadScalingConfiguration()
        if checkConfig {
            for (name, value) in scaling.describe() { print("\(name)=\(value)") }
            return
        }
        Self.printError("wsscale balancer: the balancer's runtime is not wired into this build yet; "
                        + "only --check-config is available")
        throw ExitCode(1)
    }

    /// Reads the scaling configuration from the environment and `./.env`; on any problem prints
    /// every issue (each naming its variable) to stderr and exits with status 2.
    static func loadScalingConfiguration() throws -> ScalingConfiguration {
        do {
            return try ScalingConfiguration.load(environment: ProcessInfo.processInfo.environment,
                                                 dotEnv: try readDotEnv())
        } catch let error as ConfigurationError {
            for issue in error.issues { printError("wsscale balancer: \(issue)") }
            throw invalidConfigurationExitCode
        }
    }

    /// The text of `.env` in the working directory, `nil` when there is none.
    private static func readDotEnv() throws -> String? {
        let path = FileManager.default.currentDirectoryPath + "/.env"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(issues: [
                ConfigurationIssue(variable: ".env", message: "cannot be read at \(path): \(error.localizedDescription)"),
            ])
        }
    }

    private static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
