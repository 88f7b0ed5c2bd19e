import Synchronization
import WSScaleCore
import WSScaleTestSupport

/// The lease contract held in memory, its time read from a test clock: for the election's
/// and the fence's rules. `RedisLeaderLease` is tested against a real redis-server.
final class InMemoryLeaderLease: LeaderLease {
    private struct State {
        var record: LeaderRecord?
        var expiresAt: Duration = .zero
        var lastToken: Int64 = 0
        var unreachable = false
    }
    private let clock: ManualClock
    private let state = Mutex(State())

    init(clock: ManualClock) {
        self.clock = clock
    }

    /// Makes every call fail (true) or answer again (false).
    func setUnreachable(_ unreachable: Bool) {
        state.withLock { $0.unreachable = unreachable }
    }

    func claim(holder: String, duration: Duration, nowMilliseconds: Int64) async throws -> LeaderRecord {
        let now = clock.now.offset
        return try state.withLock { state in
            if state.unreachable { throw LeaseUnreachable() }
            if let record = state.record, now < state.expiresAt {
                if record.holder == holder { state.expiresAt = now + duration }
                return record
            }
            state.lastToken += 1
            let record = LeaderRecord(holder: holder, token: state.lastToken, since: nowMilliseconds)
            state.record = record
            state.expiresAt = now + duration
            return record
        }
    }

    func current() async throws -> LeaderRecord? {
        let now = clock.now.offset
        return try state.withLock { state in
            if state.unreachable { throw LeaseUnreachable() }
            return now < state.expiresAt ? state.record : nil
        }
    }

    func release(_ record: LeaderRecord) async throws {
        state.withLock { state in
            if state.record == record { state.record = nil }
        }
    }

    struct LeaseUnreachable: Error {}
}
