import WSScaleCore

/// JSON for the session lists, written straight into one string: a list of 10,000 sessions
/// costs one growing buffer instead of an encoder's tree of small objects (which would stay
/// in the allocator's arenas and count as the server's resident memory).
enum SessionListJSON {
    /// `[{"connectedAt":…,"hostId":"…","lastActive":…,"sessionId":"…","userId":"…"}, …]`.
    static func records(_ records: [SessionRecord]) -> String {
        var text = "["
        text.reserveCapacity(2 + records.count * 120)
        for (index, record) in records.enumerated() {
            if index > 0 { text += "," }
            text += #"{"connectedAt":"#
            text += String(record.connectedAt)
            text += #","hostId":"#
            appendQuoted(record.hostId, to: &text)
            text += #","lastActive":"#
            text += String(record.lastActive)
            text += #","sessionId":"#
            appendQuoted(record.sessionId, to: &text)
            text += #","userId":"#
            appendQuoted(record.userId, to: &text)
            text += "}"
        }
        text += "]"
        return text
    }

    /// `["…", …]`.
    static func strings(_ values: [String]) -> String {
        var text = "["
        text.reserveCapacity(2 + values.count * 20)
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            appendQuoted(value, to: &text)
        }
        text += "]"
        return text
    }

    /// Appends `value` as a JSON string literal.
    static func appendQuoted(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
