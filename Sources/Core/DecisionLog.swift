/// The last decisions of the control loop, oldest first, at most `capacity` of them.
struct DecisionLog: Sendable {
    /// How many decisions are kept.
    let capacity: Int
    /// The kept decisions, oldest first.
    private(set) var decisions: [Decision] = []
    /// The sequence number the next decision gets.
    private(set) var nextSequence = 1

    /// Creates an empty log keeping at most `capacity` decisions (at least one).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Appends a decision, numbering it, and drops the oldest beyond the capacity.
    /// - Returns: the decision's sequence number.
    @discardableResult
    mutating func append(_ decision: Decision) -> Int {
        var numbered = decision
        numbered.sequence = nextSequence
        nextSequence += 1
        decisions.append(numbered)
        if decisions.count > capacity {
            decisions.removeFirst(decisions.count - capacity)
        }
        return numbered.sequence
    }

    /// Changes a kept decision in place (a launch that failed after its plan ran); does
    /// nothing when the decision was already dropped.
    mutating func update(_ sequence: Int, _ change: (inout Decision) -> Void) {
        guard let index = decisions.lastIndex(where: { $0.sequence == sequence }) else { return }
        change(&decisions[index])
    }
}
