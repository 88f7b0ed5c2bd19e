extension Duration {
    /// The duration in seconds, to the millisecond, without trailing zeros: `300`, `0.25`.
    /// `EnvironmentReader.seconds` reads it back to the same duration.
    public var secondsText: String {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1000 + (attoseconds + 500_000_000_000_000) / 1_000_000_000_000_000
        let sign = milliseconds < 0 ? "-" : ""
        let whole = abs(milliseconds) / 1000
        var fraction = String(abs(milliseconds) % 1000)
        guard fraction != "0" else { return "\(sign)\(whole)" }
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(whole).\(fraction)"
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (to the nanosecond).
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds / 1_000_000_000) / 1e9
    }
}
