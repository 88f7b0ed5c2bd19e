import Foundation

/// Cuts a byte stream of newline-delimited JSON (an events endpoint) into complete lines,
/// whatever the chunk boundaries. Pure: no I/O.
public struct JSONLineSplitter: Sendable {
    private var pending = Data()

    /// Creates an empty splitter.
    public init() {}

    /// Adds a chunk and returns the lines it completes, without their newline; blank lines
    /// are dropped.
    /// - Parameter chunk: the next bytes of the stream.
    /// - Returns: the complete lines, in order.
    public mutating func append(_ chunk: Data) -> [Data] {
        pending.append(chunk)
        var lines: [Data] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[pending.startIndex..<newline]
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) {
                lines.append(Data(line))
            }
            pending = Data(pending[pending.index(after: newline)...])
        }
        return lines
    }
}
