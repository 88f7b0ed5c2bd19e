import Foundation

/// The last lines of a log file, for an error message that should say what a program said
/// before it failed (an app that never came up, a server that exited at once).
public struct LogTail: Sendable, Equatable {
    /// The lines, oldest first.
    public var lines: [String]

    /// How many lines an error message shows.
    public static let defaultLineCount = 12
    /// How much of the file's end is read at most.
    public static let maxBytes = 16 * 1024

    /// Creates a tail of these lines.
    public init(lines: [String]) {
        self.lines = lines
    }

    /// The last `count` non-empty lines of `text`, each cut at 300 characters.
    public static func of(_ text: String, count: Int = defaultLineCount) -> LogTail {
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        return LogTail(lines: lines.suffix(count).map { $0.count > 300 ? String($0.prefix(300)) + "…" : $0 })
    }

    /// The last lines of the file at `path` (empty when it cannot be read).
    public static func read(path: String, count: Int = defaultLineCount) -> LogTail {
        guard let handle = FileHandle(forReadingAtPath: path) else { return LogTail(lines: []) }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        return of(String(decoding: data, as: UTF8.self), count: count)
    }

    /// `"; its log ends: | line | line"`, or nothing when there are no lines.
    public var shownAfterColon: String {
        lines.isEmpty ? "" : "; its log ends:\n  " + lines.joined(separator: "\n  ")
    }
}
