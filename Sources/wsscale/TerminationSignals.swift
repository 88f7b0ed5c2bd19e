import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT for a command that is not a service group: the first one runs `action`
/// once (its default, ending the process at once, is replaced); a second one ends the process
/// with status 143, as an impatient operator expects.
final class TerminationSignals: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]

    private init(sources: [DispatchSourceSignal]) {
        self.sources = sources
    }

    /// Starts watching; keep the returned value alive as long as the watch should last.
    static func onFirst(_ action: @escaping @Sendable () async -> Void) -> TerminationSignals {
        let queue = DispatchQueue(label: "wsscale.termination-signals")
        var received = false
        let sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                guard !received else { exit(143) }
                received = true
                Task { await action() }
            }
            source.resume()
            return source
        }
        return TerminationSignals(sources: sources)
    }
}
