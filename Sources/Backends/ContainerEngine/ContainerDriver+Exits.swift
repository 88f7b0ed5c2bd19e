import Foundation
import Logging
import WSScaleCore
import WSScaleCurlHTTP

extension ContainerDriver {
    /// Containers of the pool that died without being stopped on purpose, each once.
    public func exits() -> AsyncStream<InstanceExit> {
        let since = ContainerEventTime.timestamp(Date())
        return AsyncStream { continuation in
            let task = Task { await self.watchExits(since: since, into: continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Follows the engine's event stream (deaths of this pool's containers) from `since`,
    /// reconnecting with backoff (and from the last event seen) when the stream breaks,
    /// yields each container that died without being stopped on purpose, once, then removes it.
    private func watchExits(since start: String, into continuation: AsyncStream<InstanceExit>.Continuation) async {
        var since = start
        var reported = Set<String>()
        var failures = 0
        let filters = ["type": ["container"], "event": [engine.deathAction], "label": ["\(ContainerLabel.pool)=\(configuration.pool)"]]
        while !Task.isCancelled {
            var splitter = JSONLineSplitter()
            do {
                for try await chunk in engine.events(filters: filters, since: since) {
                    failures = 0
                    for line in splitter.append(chunk) {
                        guard let event = try? JSONDecoder().decode(ContainerEvent.self, from: line) else { continue }
                        if let nanos = event.timeNano { since = ContainerEventTime.timestamp(nanoseconds: nanos) }
                        guard let exit = await exitReport(event, alreadyReported: &reported) else { continue }
                        logger.warning("instance exited on its own", metadata: ["instance": "\(exit.id)", "reason": "\(exit.reason)"])
                        continuation.yield(exit)
                        await removeDead(exit.id)
                    }
                }
            } catch {
                if Task.isCancelled { break }
                failures += 1
                logger.warning("\(engine.name) event stream broke; reconnecting", metadata: ["error": "\(error)", "failures": "\(failures)"])
            }
            try? await Task.sleep(for: Self.eventStreamBackoff.ceiling(forAttempt: failures + 1))
        }
        continuation.finish()
    }

    /// The waits before reconnecting to the event stream: 0.1 s after it ended, doubling with
    /// each failure in a row up to 5 s.
    static let eventStreamBackoff = Backoff(base: .milliseconds(100), cap: .seconds(5), jitter: .none)

    /// The report for one death event, or `nil` when it is a stop asked for, another
    /// pool's, or already reported.
    private func exitReport(_ event: ContainerEvent, alreadyReported: inout Set<String>) async -> InstanceExit? {
        guard event.Action == engine.deathAction, let actor = event.Actor, let containerID = actor.ID else { return nil }
        let attributes = actor.Attributes ?? [:]
        guard attributes[ContainerLabel.pool] == configuration.pool,
              let id = attributes[ContainerLabel.instance],
              let name = attributes["name"], engine.isContainer(named: name, of: configuration.containerName(id)) else { return nil }
        guard !alreadyReported.contains(containerID) else { return nil }
        alreadyReported.insert(containerID)
        if stopping.withLockedValue({ $0.contains(id) }) { return nil }
        let code = attributes[engine.exitCodeAttribute].flatMap { Int32($0) }
        let oomKilled = (try? await engine.inspect(configuration.containerName(id)))??.State?.OOMKilled ?? false
        return InstanceExit(id: id, exitCode: code, reason: ContainerInstanceMapping.exitReason(code: code, oomKilled: oomKilled))
    }

    /// Removes a container that died on its own once its exit is reported (the control loop
    /// would stop and remove it right after; its exit code and OOM flag are in the report).
    /// A container that is being stopped, or gone already, is left to `stop`.
    private func removeDead(_ id: InstanceID) async {
        guard !stopping.withLockedValue({ $0.contains(id) }) else { return }
        do {
            try await engine.remove(configuration.containerName(id), force: false)
        } catch {
            logger.warning("removing a dead container failed; the control loop stops it", metadata: ["instance": "\(id)", "error": "\(error)"])
        }
    }
}

/// The `since` values of event streams. Pure.
enum ContainerEventTime {
    /// Unix seconds with nanoseconds.
    static func timestamp(_ date: Date) -> String {
        let nanoseconds = date.timeIntervalSince1970 * 1_000_000_000
        return timestamp(nanoseconds: nanoseconds.isFinite ? Int64(min(max(nanoseconds, 0), 9e18)) : 0)
    }

    /// From Unix nanoseconds; a time before 1970 (a negative `timeNano` from the engine) is
    /// taken as 1970 itself, `0.000000000`: events are asked for since then, never a trap.
    static func timestamp(nanoseconds: Int64) -> String {
        let nanoseconds = max(0, nanoseconds)
        let fraction = String(nanoseconds % 1_000_000_000)
        return "\(nanoseconds / 1_000_000_000).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"
    }
}
