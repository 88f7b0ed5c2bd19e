/// An incremental UTF-8 validator (RFC 3629, Unicode table 3-7): feed it a text message's bytes
/// in as many pieces as they come, and it says at the first byte that makes the text invalid,
/// whether or not a sequence is split between two pieces.
///
/// Three bytes of state: how many continuation bytes the current sequence still needs and the
/// range the next one must fall in (narrower than `80…BF` right after `E0`, `ED`, `F0` and
/// `F4`, which is what rules out overlong forms, the surrogates `D800…DFFF` and code points
/// above `U+10FFFF`). Pure: no I/O, no allocation.
struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes the current sequence still needs (0: between sequences).
    private var remaining: UInt8 = 0
    /// Smallest byte allowed next, when `remaining > 0`.
    private var lower: UInt8 = 0x80
    /// Largest byte allowed next, when `remaining > 0`.
    private var upper: UInt8 = 0xBF

    /// A validator at the start of a text.
    init() {}

    /// True when the bytes so far end between two sequences (the text may end here).
    var isComplete: Bool { remaining == 0 }

    /// Reads `byte`; false when it cannot follow the bytes before it (the state is then
    /// unchanged and meaningless: stop there).
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        if remaining > 0 {
            guard byte >= lower && byte <= upper else { return false }
            remaining -= 1
            lower = 0x80
            upper = 0xBF
            return true
        }
        switch byte {
        case 0x00...0x7F:
            return true
        case 0xC2...0xDF:
            remaining = 1
        case 0xE0:
            remaining = 2
            lower = 0xA0  // below: overlong
        case 0xE1...0xEC, 0xEE...0xEF:
            remaining = 2
        case 0xED:
            remaining = 2
            upper = 0x9F  // above: surrogates D800…DFFF
        case 0xF0:
            remaining = 3
            lower = 0x90  // below: overlong
        case 0xF1...0xF3:
            remaining = 3
        case 0xF4:
            remaining = 3
            upper = 0x8F  // above: beyond U+10FFFF
        default:
            // 80…BF without a lead byte, C0 / C1 (overlong), F5…FF (never in UTF-8).
            return false
        }
        return true
    }

    /// Reads `bytes`; false at the first byte that makes the text invalid.
    mutating func consume<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        for byte in bytes where !consume(byte) { return false }
        return true
    }

    /// Reads the readable bytes of a buffer without copying them.
    mutating func consume(contentsOf buffer: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = buffer.count
        while index < count {
            // ASCII between sequences, eight bytes at a time.
            if remaining == 0 {
                while index + 8 <= count,
                      buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                }
                if index == count { break }
            }
            guard consume(buffer[index]) else { return false }
            index += 1
        }
        return true
    }

    /// Whether `bytes` are one complete, valid UTF-8 text.
    static func isValid<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var validator = UTF8Validator()
        return validator.consume(bytes) && validator.isComplete
    }
}
