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
    static func decode(_ text: String) -> HostCommand? {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        switch (parts.first, parts.count) {
        case ("shed", 2):
            guard let count = Int(parts[1]), count >= 0 else { return nil }
            return .shed(count: count)
        case ("drain", 1): return .drain
        case ("activate", 1): return .activate
        case ("drop", 2):
            return parts[1].isEmpty ? nil : .drop(sessionId: String(parts[1]))
        default: return nil
        }
    }
}
