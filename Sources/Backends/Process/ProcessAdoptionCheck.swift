#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleCore

/// Whether a live process named by a pid file is one of this pool's servers, before the
/// process backend adopts it (and may later stop its process group).
///
/// A pid file is only a claim: the pid may have been reused, or the file written by someone
/// else. The process is adopted only when
/// - the pid file records a start time and the process has that start time (not a reused pid);
/// - its environment at launch says it is this instance of this pool: `SERVER_ID=<id>` and
///   `WSSCALE_POOL=<pool>`, both set by the driver when it launched it;
/// - it runs the program the driver launches: `/proc/PID/exe` is the driver's executable
///   (both resolved) and its arguments are the driver's (`server` for `wsscale server`). A
///   process of the same user that merely carries the two variables is not a server.
///
/// Decision, a binary replaced on disk: after an upgrade installs a new `wsscale` at the same
/// path, the kernel shows a server started from the old one as `/proc/PID/exe` =
/// `<path> (deleted)`. That counts as the configured path, and the server is adopted:
/// refusing it would orphan every server of an upgraded deployment (never stopped, never in
/// rotation), and the link is the kernel's, so only a process that was started from that
/// path has it.
public enum ProcessAdoptionCheck {
    /// What the kernel appends to `/proc/PID/exe` when the file was deleted or replaced.
    public static let deletedSuffix = " (deleted)"

    /// The program the driver launches, as adoption compares a live process with it.
    public struct Program: Sendable, Equatable {
        /// The executable's path, symbolic links followed.
        public var executablePath: String
        /// The arguments after `argv[0]`.
        public var arguments: [String]

        /// Creates a program from a resolved path and its arguments.
        public init(executablePath: String, arguments: [String]) {
            self.executablePath = executablePath
            self.arguments = arguments
        }

        /// The program `configuration` launches: its executable found the way `posix_spawnp`
        /// finds it (a bare name in this process's `PATH`), symbolic links followed.
        public init(launching configuration: ProcessDriver.Configuration) {
            self.init(executablePath: ProcessAdoptionCheck.resolve(configuration.executable,
                                                                   searchPath: ProcessInfo.processInfo.environment["PATH"]),
                      arguments: configuration.arguments)
        }
    }

    /// What adoption reads of a live process (`/proc/PID/…`); `nil` for what cannot be read.
    public struct Observation: Sendable {
        /// Its start time (`/proc/PID/stat`).
        public var startTime: UInt64?
        /// Its launch environment (`/proc/PID/environ`).
        public var environment: [String: String]?
        /// Its executable as the kernel shows it (`/proc/PID/exe`, maybe ending ` (deleted)`).
        public var executable: String?
        /// Its arguments, `argv[0]` first (`/proc/PID/cmdline`).
        public var commandLine: [String]?

        /// Creates an observation from its parts.
        public init(startTime: UInt64?, environment: [String: String]?, executable: String?, commandLine: [String]?) {
            self.startTime = startTime
            self.environment = environment
            self.executable = executable
            self.commandLine = commandLine
        }

        /// Reads process `pid`'s `/proc` entries.
        public init(pid: Int32) {
            self.init(startTime: LocalProcess(pid: pid).startTime, environment: ProcessAdoptionCheck.environment(of: pid),
                      executable: try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"),
                      commandLine: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map(ProcessAdoptionCheck.parseCommandLine))
        }
    }

    /// Why the process may not be adopted, or `nil` when it may (pure).
    /// - Parameters:
    ///   - record: the pid file.
    ///   - pool: the driver's pool.
    ///   - program: what the driver launches.
    ///   - process: what was read of the live process.
    public static func problem(record: ProcessPidFile, pool: String, program: Program, process: Observation) -> String? {
        guard let recorded = record.startTime else { return "the pid file has no start time" }
        guard let startTime = process.startTime, startTime == recorded else {
            return "its start time is not the recorded one (the pid was reused)"
        }
        guard let environment = process.environment else { return "its environment cannot be read" }
        guard environment["SERVER_ID"] == record.id else {
            return "it is not server \(record.id) (SERVER_ID is \(environment["SERVER_ID"].map { "\"\($0)\"" } ?? "unset"))"
        }
        guard environment["WSSCALE_POOL"] == pool else {
            return "it is not of pool \(pool) (WSSCALE_POOL is \(environment["WSSCALE_POOL"].map { "\"\($0)\"" } ?? "unset"))"
        }
        guard let executable = process.executable else { return "its executable cannot be read" }
        guard withoutDeletedSuffix(executable) == program.executablePath else {
            return "it runs \(executable), not \(program.executablePath)"
        }
        // Its arguments are not shown: they are another program's, and may hold anything.
        guard let commandLine = process.commandLine, Array(commandLine.dropFirst()) == program.arguments else {
            return "its arguments are not the ones the driver launches \(program.executablePath) with"
        }
        return nil
    }

    /// `path` without the kernel's ` (deleted)`.
    static func withoutDeletedSuffix(_ path: String) -> String {
        path.hasSuffix(deletedSuffix) ? String(path.dropLast(deletedSuffix.count)) : path
    }

    /// `executable` as `posix_spawnp` finds it (a name without `/` in `searchPath`), symbolic
    /// links followed; as given when it cannot be found.
    static func resolve(_ executable: String, searchPath: String?) -> String {
        let executable = withoutDeletedSuffix(executable)
        let candidates = executable.contains("/") ? [executable]
            : (searchPath ?? "/usr/bin:/bin").split(separator: ":").map { "\($0.isEmpty ? "." : $0)/\(executable)" }
        for candidate in candidates where access(candidate, X_OK) == 0 {
            guard let resolved = realpath(candidate, nil) else { return candidate }
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return executable
    }

    /// A process's launch environment, from `/proc/PID/environ` (NUL-separated `NAME=value`).
    public static func environment(of pid: Int32) -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        return parseEnviron(data)
    }

    /// Parses the text of `/proc/PID/environ`.
    static func parseEnviron(_ data: Data) -> [String: String] {
        var values: [String: String] = [:]
        for entry in data.split(separator: 0) {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
            values[name] = String(decoding: entry[entry.index(after: equals)...], as: UTF8.self)
        }
        return values
    }

    /// Parses the text of `/proc/PID/cmdline`: NUL-terminated arguments, empty ones kept.
    static func parseCommandLine(_ data: Data) -> [String] {
        var arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if data.last == 0 { arguments.removeLast() }
        return arguments
    }
}
