import NIOConcurrencyHelpers
import WSScaleCore

/// Coalesces change notifications per host: the first one opens a window of `delay`,
/// later ones inside it are absorbed, and one `emit` fires when the window closes.
final class HostChangeDebouncer: Sendable {
    private let delay: Duration
    private let emit: @Sendable (InstanceID) -> Void
    private let waiting = NIOLockedValueBox(Set<InstanceID>())

    /// Creates a debouncer that calls `emit` at most once per `delay` per host.
    init(delay: Duration, emit: @escaping @Sendable (InstanceID) -> Void) {
        self.delay = delay
        self.emit = emit
    }

    /// Notes a change of `host`.
    func note(_ host: InstanceID) {
        let opensWindow = waiting.withLockedValue { $0.insert(host).inserted }
        guard opensWindow else { return }
        Task { [delay, emit, waiting] in
            try? await Task.sleep(for: delay)
            waiting.withLockedValue { _ = $0.remove(host) }
            emit(host)
        }
    }
}
