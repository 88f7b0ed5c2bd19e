#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A process on this machine, named by its pid: one this process spawned, or one an
/// earlier run spawned and this run adopted.
///
/// Spawning uses `posix_spawn` with its own process group (so a Ctrl-C on the terminal
/// reaches only us, and we decide what the children get), default signal dispositions and
/// an empty signal mask (ignored signals such as SIGPIPE are not inherited), stdin from
/// `/dev/null`, and stdout + stderr appended to a log file.
public struct LocalProcess: Sendable, Hashable {
    /// The process id.
    public let pid: pid_t

    /// Names an existing process.
    public init(pid: pid_t) {
        self.pid = pid
    }

    /// Why a spawn failed.
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        /// The program that could not be started.
        public var executable: String
        /// The `errno` value `posix_spawn` returned.
        public var code: Int32

        public var description: String {
            "cannot start \(executable): \(String(cString: strerror(code)))"
        }
    }

    /// Starts a program.
    /// - Parameters:
    ///   - executable: a path, or a bare name looked up in `PATH`.
    ///   - arguments: the arguments after the program name.
    ///   - environment: the complete environment of the new process.
    ///   - outputPath: file that receives stdout and stderr (appended, created if needed);
    ///     `nil` sends both to `/dev/null`.
    ///   - inheritsOutput: the child writes to this process's stdout and stderr instead
    ///     (`outputPath` is then ignored).
    ///   - ownProcessGroup: the child leads a process group of its own (the default); `false`
    ///     keeps it in this process's group, so a SIGKILL of that group ends it too.
    /// - Returns: the running process.
    /// - Throws: `SpawnError` when the program does not exist or cannot be executed.
    public static func spawn(executable: String, arguments: [String], environment: [String: String],
                             outputPath: String?, inheritsOutput: Bool = false,
                             ownProcessGroup: Bool = true) throws -> LocalProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if !inheritsOutput {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        try closeInheritedDescriptors(&actions, executable: executable)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let flags = (ownProcessGroup ? POSIX_SPAWN_SETPGROUP : 0) | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let result: Int32
        if executable.contains("/") {
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        } else {
            result = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        return LocalProcess(pid: pid)
    }

    /// The child must not inherit our other descriptors (listening sockets, NIO's epoll and
    /// event fds, log files): a server holding the balancer's port after the balancer died
    /// would block its restart. glibc 2.34+ has `posix_spawn_file_actions_addclosefrom_np`,
    /// which Swift does not import (it is a GNU extension), so it is looked up at run time.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t, executable: String) throws {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return // older C library: descriptors opened close-on-exec are all that is closed
        }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        let result = closeFrom(&actions, 3)
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
    }

    /// Reaps the process if it has ended, without blocking.
    ///
    /// For our own children this is `waitpid(pid, WNOHANG)`, which also removes the zombie.
    /// For a process we did not spawn (adopted from an earlier run), it checks that the pid
    /// is gone or a zombie.
    /// - Returns: how it ended, or `nil` while it still runs.
    public func exitStatusIfEnded() -> ProcessExitStatus? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            return ProcessExitStatus(waitStatus: status)
        }
        if result == 0 {
            return nil
        }
        return isAlive ? nil : .unknown
    }

    /// Whether the pid names a live process (it exists and is not a zombie).
    public var isAlive: Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        return procState != "Z"
    }

    /// When the process started, in clock ticks since boot (field 22 of `/proc/PID/stat`).
    /// Together with the pid it identifies one process: a reused pid has another start time.
    public var startTime: UInt64? {
        guard let fields = procStatFields, fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Sends a signal to the process's group when it leads one (so its own children get it
    /// too), else to the process alone.
    /// - Parameter signal: the signal number, e.g. `SIGTERM`.
    public func send(_ signal: Int32) {
        if getpgid(pid) == pid {
            kill(-pid, signal)
        } else {
            kill(pid, signal)
        }
    }

    /// Stops the process: SIGTERM, up to `grace` for it to exit, then SIGKILL, and reaps it.
    ///
    /// SIGTERM goes to the process alone: it stops its own children in its own time (a server
    /// drains, then stops the app it started). SIGKILL goes to its whole group, so nothing
    /// it started outlives it.
    /// - Parameters:
    ///   - grace: time between SIGTERM and SIGKILL.
    ///   - pollInterval: how often to look whether it has exited.
    /// - Returns: how it ended, or `nil` if it still ran 5 seconds after SIGKILL.
    public func terminate(grace: Duration, pollInterval: Duration = .milliseconds(20)) async -> ProcessExitStatus? {
        if let status = exitStatusIfEnded() { return status }
        kill(pid, SIGTERM)
        if let status = await waitForExit(within: grace, pollInterval: pollInterval) { return status }
        send(SIGKILL)
        return await waitForExit(within: .seconds(5), pollInterval: pollInterval)
    }

    /// Waits for the process to end, reaping it.
    /// - Parameters:
    ///   - limit: how long to wait.
    ///   - pollInterval: how often to look.
    /// - Returns: how it ended, or `nil` if it still runs after `limit`.
    public func waitForExit(within limit: Duration, pollInterval: Duration = .milliseconds(20)) async -> ProcessExitStatus? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while true {
            if let status = exitStatusIfEnded() { return status }
            if clock.now >= deadline { return nil }
            await Self.pause(pollInterval)
        }
    }

    /// Sleeps even when the calling task is cancelled: stopping a process must finish
    /// (Ctrl-C cancels tasks, and the children must still be stopped and reaped).
    private static func pause(_ duration: Duration) async {
        do {
            try await Task.sleep(for: duration)
        } catch {
            let (seconds, attoseconds) = duration.components
            let microseconds = Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000)
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(microseconds)) {
                    continuation.resume()
                }
            }
        }
    }

    private var procStatFields: [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    private var procState: String? {
        procStatFields?.first.map(String.init)
    }
}
