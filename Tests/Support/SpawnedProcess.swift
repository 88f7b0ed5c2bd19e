import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawnp`, with a clean signal mask.
///
/// Why not Foundation's `Process`: on Linux it starts the child from a dispatch worker
/// thread whose signal mask blocks SIGTERM and most other signals, and the child inherits
/// it, so `SIGTERM` never reaches it (redis-server ignores it and `waitUntilExit` hangs).
/// Here the child starts with no signal blocked and default dispositions, in its own
/// process group, and with no descriptor of the parent's but its standard input and output.
public final class SpawnedProcess: @unchecked Sendable {
    /// The child's process id.
    public let pid: pid_t
    private var exitStatus: Int32?
    private let lock = NSLock()

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `program` (looked up in `PATH`) with `arguments`.
    /// - Parameter outputPath: where stdout and stderr go (appended).
    public static func launch(_ program: String, _ arguments: [String],
                              outputPath: String = "/dev/null") throws -> SpawnedProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var files = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&files)
        defer { posix_spawn_file_actions_destroy(&files) }
        posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&files, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&files, 1, 2)
        // Nothing else of ours: SwiftNIO opens its sockets without close-on-exec, so a child
        // would otherwise keep copies of them (a port just probed by `freeLoopbackPort`, client
        // connections that then never close).
        guard closeFromThree(&files) else {
            throw TestSupportError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or newer needed)")
        }

        let words = [program] + arguments
        let cStrings = words.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var argv: [UnsafeMutablePointer<CChar>?] = cStrings + [nil]
        var pid = pid_t()
        let result = posix_spawnp(&pid, program, &files, &attributes, &argv, environ)
        guard result == 0 else {
            throw TestSupportError("could not start \(program): \(String(cString: strerror(result)))")
        }
        return SpawnedProcess(pid: pid)
    }

    /// Sends `signal` to the child (nothing once it has exited).
    public func send(_ signal: Int32) {
        if isRunning { Glibc.kill(pid, signal) }
    }

    /// Whether the child is still running (reaps it once it has exited).
    public var isRunning: Bool {
        lock.withLock {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                return false
            }
            return true
        }
    }

    /// The raw wait status once the child exited, else `nil`.
    public var status: Int32? {
        _ = isRunning
        return lock.withLock { exitStatus }
    }

    /// Waits (polling every 10 ms) until the child exits or `timeout` passes; returns whether it exited.
    @discardableResult
    public func waitForExit(timeout: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning {
            if clock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// SIGTERM, then SIGKILL after `grace`; returns once the child is gone.
    public func terminate(grace: Duration = .seconds(5)) {
        send(SIGTERM)
        if !waitForExit(timeout: grace) { kill() }
    }

    /// SIGKILL; returns once the child is gone.
    public func kill() {
        send(SIGKILL)
        waitForExit(timeout: .seconds(10))
    }
}

/// `posix_spawn_file_actions_addclosefrom_np(actions, 3)`: glibc (2.34+) has it, but its
/// header declares it only under `_GNU_SOURCE`, so Swift's Glibc module does not see it;
/// it is looked up by name.
private func closeFromThree(_ actions: inout posix_spawn_file_actions_t) -> Bool {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        return false
    }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3) == 0
}
