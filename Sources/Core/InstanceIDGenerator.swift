/// Makes new instance ids.
public enum InstanceIDGenerator {
    /// `ws-` followed by 6 random lowercase hexadecimal digits (for example `ws-3f2a1c`).
    @Sendable public static func randomHex() -> InstanceID {
        let value = UInt32.random(in: 0..<(1 << 24))
        let hex = String(value, radix: 16)
        return "ws-" + String(repeating: "0", count: 6 - hex.count) + hex
    }
}
