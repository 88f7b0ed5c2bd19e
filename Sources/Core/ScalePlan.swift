/// Why sessions are shed from a host.
public enum ShedCause: String, Sendable, Codable, Equatable {
    /// The host is over-utilized compared with the pool ("Swiss cheese").
    case rebalance
    /// The host is draining and its drain timeout passed.
    case drainTimeout
}

/// An order to close some of a host's most idle sessions with close code 4001.
public struct ShedOrder: Sendable, Equatable, Hashable, Codable {
    /// The host that closes sessions.
    public var host: InstanceID
    /// How many sessions it closes, most idle first.
    public var count: Int
    /// Why.
    public var cause: ShedCause

    /// Creates a shed order.
    public init(host: InstanceID, count: Int, cause: ShedCause) {
        self.host = host
        self.count = count
        self.cause = cause
    }
}

/// What the decision rules want done to the pool, with the reasons.
///
/// The control loop carries it out in this order: activate, launch (and add to the
/// proxy once healthy), drain, shed, remove.
public struct ScalePlan: Sendable, Equatable {
    /// Draining instances to put back in rotation (fullest first).
    public var activate: [InstanceID]
    /// How many new instances to launch.
    public var launch: Int
    /// Active instances to take out of rotation (least loaded first).
    public var drain: [InstanceID]
    /// Sessions to shed, per host.
    public var shed: [ShedOrder]
    /// Draining instances to stop and remove.
    public var remove: [InstanceID]
    /// Human-readable reasons, one per decision, for logs and the API.
    public var reasons: [String]

    /// Creates a plan; every part defaults to "nothing".
    public init(activate: [InstanceID] = [], launch: Int = 0, drain: [InstanceID] = [],
                shed: [ShedOrder] = [], remove: [InstanceID] = [], reasons: [String] = []) {
        self.activate = activate
        self.launch = launch
        self.drain = drain
        self.shed = shed
        self.remove = remove
        self.reasons = reasons
    }

    /// True when the plan changes nothing.
    public var isEmpty: Bool {
        activate.isEmpty && launch == 0 && drain.isEmpty && shed.isEmpty && remove.isEmpty
    }
}
