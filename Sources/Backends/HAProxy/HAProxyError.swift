/// Something HAProxy or its runtime API refused, or a bad HAProxy setting.
public struct HAProxyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, with HAProxy's own words when it gave some.
    public var message: String
    /// The runtime API command concerned, if any.
    public var command: String?

    /// Creates an error.
    public init(_ message: String, command: String? = nil) {
        self.message = message
        self.command = command
    }

    public var description: String {
        command.map { "\($0): \(message)" } ?? message
    }
}
