import NIOConcurrencyHelpers

/// Hands each value to every `AsyncStream` made so far (one per `makeStream()` call).
final class StreamBroadcast<Element: Sendable>: Sendable {
    private let continuations = NIOLockedValueBox<[Int: AsyncStream<Element>.Continuation]>([:])
    private let nextId = NIOLockedValueBox(0)

    /// A new stream that receives every later value until `finish()`.
    func makeStream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self)
        let id = nextId.withLockedValue { value in
            value += 1
            return value
        }
        continuations.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.continuations.withLockedValue { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Gives `value` to every open stream; never blocks.
    func yield(_ value: Element) {
        for continuation in continuations.withLockedValue({ Array($0.values) }) {
            continuation.yield(value)
        }
    }

    /// Ends every stream.
    func finish() {
        for continuation in continuations.withLockedValue({ Array($0.values) }) {
            continuation.finish()
        }
    }
}
