extension Int {
    /// `self × other`, or `Int.max` / `Int.min` when the product does not fit: the decision
    /// rules compare products of counts that come from outside (the registry, the
    /// configuration), and an overflow must give a wrong-but-extreme answer, never a trap.
    func saturatingMultiplied(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// `self + other`, or `Int.max` / `Int.min` when the sum does not fit.
    func saturatingAdding(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self − other`, or `Int.max` / `Int.min` when the difference does not fit.
    func saturatingSubtracting(_ other: Int) -> Int {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other < 0 ? .max : .min
    }
}

extension Sequence where Element == Int {
    /// The sum, saturating at `Int.max` / `Int.min` instead of trapping.
    func saturatingSum() -> Int { reduce(0) { $0.saturatingAdding($1) } }
}
