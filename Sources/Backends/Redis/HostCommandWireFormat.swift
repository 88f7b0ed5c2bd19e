import WSScaleCore

/// How a `HostCommand` travels on a host's command channel: `shed N`, `drain`, `activate`,
/// `drop SESSION_ID`.
enum HostCommandWireFormat {
    /// The message text for a command.
    static func encode(_ command: HostCommand) -> String {
        switch command {
        case .shed(let count): return "shed \(count)"
        case .drain: return "drain"
        case .activate: return "activate"
        case .drop(let sessionId): return "drop \(sessionId)"
        }
    }

    /// The command a message stands for; `nil` for anything malformed.
    ///
    /// `shed N` takes `N` as ASCII digits only (no sign, no spaces, at most 40 of them); a count
    /// above `SettingRule.maxShed` (1,000,000, as many sessions as a server may hold), even
    /// one too large for `Int`, is lowered to it: "shed more than you have" means "shed all".
    static func decode(_ text: String) -> HostCommand? {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        switch (parts.first, parts.count) {
        case ("shed", 2):
            guard let count = shedCount(parts[1]) else { return nil }
            return .shed(count: count)
        case ("drain", 1): return .drain
        case ("activate", 1): return .activate
        case ("drop", 2):
            return parts[1].isEmpty ? nil : .drop(sessionId: String(parts[1]))
        default: return nil
        }
    }

    /// The count of a `shed` command, clamped to `SettingRule.maxShed`; `nil` unless it is
    /// 1–40 ASCII digits.
    static func shedCount(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 40, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let digits = text.drop { $0 == "0" }
        guard digits.utf8.count <= 7, let count = Int(digits.isEmpty ? "0" : digits) else { return SettingRule.maxShed }
        return min(count, SettingRule.maxShed)
    }
}
