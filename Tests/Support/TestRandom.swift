/// Deterministic random sources for the tests of jitter and backoff.

/// Always returns the same word: `.max` makes every jittered delay its ceiling, `1` makes it
/// zero. (Not `0`: the standard library's rejection sampling would draw again forever.)
public struct ConstantRandom: RandomNumberGenerator, Sendable {
    let word: UInt64
    /// A source that always returns `word`.
    public init(word: UInt64) { self.word = word }
    public mutating func next() -> UInt64 { word }
}

/// SplitMix64: a small seeded generator, so a run can be replayed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// A source that starts from `seed`.
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
