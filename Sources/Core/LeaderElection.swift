import Logging
import ServiceLifecycle

/// Keeps claiming the pool's leadership lease for this balancer: several balancers run
/// against one pool, one of them leads (acts), the others stand by (read and serve the
/// read APIs), and a standby takes over within one lease when the leader stops claiming.
///
/// - The lease in the store lasts `0.9 × duration` from each claim; the leader extends it
///   every `duration / 3` and may act until `0.8 × duration` after its last successful claim
///   was sent (`Leadership`), so it stops acting before any standby can take the lease over.
/// - A standby claims every `duration / 10`: the lease lapses at most `0.9 × duration` after
///   the leader's last claim, and is taken within a tenth of `duration` after that: a
///   standby leads within `duration` of the leader's death.
/// - A claim that fails (the store does not answer) changes nothing: the leader acts until
///   its validity runs out, then stops.
/// - On shutdown the leader releases the lease, so a standby takes over at its next claim.
public actor LeaderElection: Service {
    /// How long a lease lasts (`LEADER_LEASE_SECONDS`).
    public let duration: Duration
    private let lease: any LeaderLease
    private let leadership: Leadership
    private let wallClock: WallClock
    private let logger: Logger

    /// Creates the election of one balancer.
    /// - Parameters:
    ///   - lease: the store.
    ///   - leadership: where the outcome goes (its clock paces the claims).
    ///   - duration: the lease's length.
    ///   - wallClock: for the record's `since`.
    ///   - logger: leadership changes are logged at notice level.
    public init(lease: any LeaderLease, leadership: Leadership, duration: Duration,
                wallClock: WallClock = .system, logger: Logger) {
        self.lease = lease
        self.leadership = leadership
        self.duration = duration
        self.wallClock = wallClock
        self.logger = logger
    }

    /// How long a claim lets the balancer act, for a lease of `duration`.
    public static func validity(of duration: Duration) -> Duration { duration * 8 / 10 }
    /// How long the lease lasts in the store from a claim, for a lease of `duration`.
    public static func storedLease(of duration: Duration) -> Duration { duration * 9 / 10 }

    /// Claims until the task is cancelled or a graceful shutdown is triggered, then releases
    /// the lease if this balancer holds it.
    public func run() async {
        logger.info("leader election started", metadata: ["holder": "\(leadership.holder)", "lease": "\(duration)"])
        var wasLeading = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await claimOnce()
            let leading = leadership.mayAct() != nil
            if leading != wasLeading {
                let record = leadership.lastSeen
                logger.notice(leading ? "leading the pool" : "no longer leading the pool", metadata: [
                    "holder": "\(leadership.holder)", "token": "\(record?.token ?? 0)",
                    "leader": "\(record?.holder ?? "none")",
                ])
                wasLeading = leading
            }
            do {
                try await leadership.clock.sleep(leading ? duration / 3 : max(duration / 10, .milliseconds(50)))
            } catch {
                break
            }
        }
        if let ours = leadership.mayAct() {
            do {
                try await lease.release(ours)
                logger.notice("leadership released", metadata: ["holder": "\(leadership.holder)", "token": "\(ours.token)"])
            } catch {
                logger.warning("releasing the leadership failed; it lapses by itself", metadata: ["error": "\(error)"])
            }
        }
        leadership.released()
        leadership.finish()
    }

    /// One claim, its answer recorded.
    func claimOnce() async {
        let sentAt = leadership.clock.now()
        do {
            let record = try await lease.claim(holder: leadership.holder, duration: Self.storedLease(of: duration),
                                               nowMilliseconds: wallClock.milliseconds())
            leadership.claimReturned(record, sentAt: sentAt)
        } catch {
            logger.warning("claiming the leadership failed", metadata: ["error": "\(error)"])
            leadership.claimFailed()
        }
    }
}
