import Foundation
import WSScaleCore

extension ProcessDriver {
    /// What the process backend launches and where it keeps its state.
    public struct Configuration: Sendable {
        /// The program to run: a path, or a bare name looked up in `PATH`.
        public var executable: String
        /// Its arguments (`["server"]` for `wsscale server`).
        public var arguments: [String]
        /// Where pid files and logs go: `<stateDirectory>/<pool>/<id>.pid|.log`.
        public var stateDirectory: String
        /// The pool's name; a driver only sees the instances of its pool.
        public var pool: String
        /// The address servers bind and the proxy reaches (`SERVER_HOST`).
        public var host: String
        /// Environment given to every instance on top of this process's own environment
        /// (the launch request's environment comes on top of it).
        public var environment: [String: String]
        /// Whether instances inherit this process's environment.
        public var inheritsEnvironment: Bool
        /// How often the driver looks for instances that exited.
        public var exitPollInterval: Duration
        /// How long adoption waits for an instance found from an earlier run to answer `/health`.
        public var adoptionProbeTimeout: Duration

        /// Creates a configuration.
        /// - Parameters:
        ///   - executable: the program to run (path or name in `PATH`).
        ///   - arguments: its arguments.
        ///   - stateDirectory: where pid files and logs go.
        ///   - pool: the pool's name (letters, digits, `.`, `_`, `-`).
        ///   - host: the loopback address the servers bind.
        ///   - environment: extra environment for every instance.
        public init(executable: String, arguments: [String], stateDirectory: String, pool: String = "default",
                    host: String = "127.0.0.1", environment: [String: String] = [:],
                    inheritsEnvironment: Bool = true, exitPollInterval: Duration = .milliseconds(50),
                    adoptionProbeTimeout: Duration = .seconds(1)) {
            self.executable = executable
            self.arguments = arguments
            self.stateDirectory = stateDirectory
            self.pool = pool
            self.host = host
            self.environment = environment
            self.inheritsEnvironment = inheritsEnvironment
            self.exitPollInterval = exitPollInterval
            self.adoptionProbeTimeout = adoptionProbeTimeout
        }

        /// The embedded default: this very binary run as `wsscale server`.
        /// - Parameters:
        ///   - stateDirectory: where pid files and logs go.
        ///   - pool: the pool's name.
        public static func wsscaleServer(stateDirectory: String, pool: String = "default") -> Configuration {
            Configuration(executable: currentExecutablePath(), arguments: ["server"],
                          stateDirectory: stateDirectory, pool: pool)
        }

        /// The path of the running binary (`/proc/self/exe` resolved), falling back to `argv[0]`.
        public static func currentExecutablePath() -> String {
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                return path
            }
            return CommandLine.arguments.first ?? "wsscale"
        }

        /// Checks the values a user can get wrong.
        /// - Throws: `DriverError` naming the bad setting.
        public func validate() throws {
            guard ProcessDriver.isSafeName(pool) else {
                throw DriverError("pool name \"\(pool)\" must be letters, digits, '.', '_' or '-'")
            }
            guard !executable.isEmpty else { throw DriverError("executable must not be empty") }
            guard !stateDirectory.isEmpty else { throw DriverError("stateDirectory must not be empty") }
        }
    }

    /// Whether a name is safe as a file name component (pool names, instance ids).
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.count <= 128
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
    }
}
