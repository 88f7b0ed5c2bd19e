#if canImport(Glibc)
import Glibc
#endif

/// How a process ended.
public enum ProcessExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// It called `exit` with this code.
    case exited(code: Int32)
    /// A signal ended it.
    case signaled(signal: Int32)
    /// It is gone, but it was not our child, so how it ended is unknown.
    case unknown

    /// Decodes a `waitpid` status word (the `WIFEXITED` / `WTERMSIG` macros, which Swift cannot import).
    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        if signal == 0 {
            self = .exited(code: (waitStatus >> 8) & 0xff)
        } else {
            self = .signaled(signal: signal)
        }
    }

    /// The exit code, when the process exited by itself.
    public var exitCode: Int32? {
        if case .exited(let code) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with code \(code)"
        case .signaled(let signal): return "killed by signal \(signal)\(Self.signalName(signal).map { " (\($0))" } ?? "")"
        case .unknown: return "gone (not a child of this process, exit status unknown)"
        }
    }

    private static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGILL: return "SIGILL"
        case SIGHUP: return "SIGHUP"
        case SIGPIPE: return "SIGPIPE"
        default: return nil
        }
    }
}
