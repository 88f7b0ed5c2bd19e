import NIOConcurrencyHelpers

/// The port a server ends up listening on, awaited by those who need it (port 0 picks a free
/// port, known only once the server runs).
final class ListeningPort: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Int, any Error>])
        case listening(Int)
        case failed(any Error)
    }

    private let state = NIOLockedValueBox(State.waiting([]))

    /// Waits until the port is known.
    /// - Throws: the error the server stopped with, if it stopped before listening.
    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = state.withLockedValue { state in
                switch state {
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                case .listening(let port): return .success(port)
                case .failed(let error): return .failure(error)
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Records the port and wakes the waiters.
    func listening(on port: Int) {
        complete(.success(port))
    }

    /// Records that the server stopped, and wakes the waiters with the error.
    func stopped(_ error: any Error) {
        complete(.failure(error))
    }

    private func complete(_ result: Result<Int, any Error>) {
        let waiters: [CheckedContinuation<Int, any Error>] = state.withLockedValue { state in
            guard case .waiting(let waiters) = state else { return [] }
            switch result {
            case .success(let port): state = .listening(port)
            case .failure(let error): state = .failed(error)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
