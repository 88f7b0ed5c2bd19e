/// Who leads the pool, as the lease store has it.
public struct LeaderRecord: Sendable, Equatable, Codable {
    /// The leading balancer's run: its `BALANCER_ID` and a random suffix drawn at start
    /// (`LeaderIdentity`), so a balancer restarted under the same id never inherits the
    /// lease of a run that is only paused.
    public var holder: String
    /// The fencing token: every new holder gets a larger one than all before it.
    public var token: Int64
    /// Wall-clock milliseconds since 1970 at which this holder took the lease.
    public var since: Int64

    /// Creates a record.
    public init(holder: String, token: Int64, since: Int64) {
        self.holder = holder
        self.token = token
        self.since = since
    }
}

/// The store of the pool's leadership lease (Redis: `RedisLeaderLease`).
///
/// Contract:
/// - `claim` is atomic: when nobody holds the lease it gives it to `holder` with a token larger
///   than any given before, for `duration`; when `holder` holds it, it extends it by
///   `duration` and keeps the token; when another holds it, it changes nothing. It returns the
///   record as it stands after the call. Two claims at the same moment give one holder.
/// - The lease lapses by itself `duration` after the last claim that took or extended it.
/// - `current` reads the record without changing it; `nil` when nobody holds the lease.
/// - `release` ends the lease only if `record` still holds it (a graceful handover).
public protocol LeaderLease: Sendable {
    /// Takes or extends the lease for `holder`.
    /// - Parameters:
    ///   - holder: the claiming balancer's run.
    ///   - duration: how long the lease lasts from now.
    ///   - nowMilliseconds: the wall clock, for `LeaderRecord.since` of a new holder.
    /// - Returns: who holds the lease after the call.
    func claim(holder: String, duration: Duration, nowMilliseconds: Int64) async throws -> LeaderRecord
    /// Who holds the lease now, if anyone.
    func current() async throws -> LeaderRecord?
    /// Ends the lease if `record` still holds it.
    func release(_ record: LeaderRecord) async throws
}

/// A balancer run's name in the lease: `BALANCER_ID/<8 random hex digits>`.
public enum LeaderIdentity {
    /// A fresh holder name for a run of `balancerID`.
    public static func holder(balancerID: String) -> String {
        "\(balancerID)/\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }
}
