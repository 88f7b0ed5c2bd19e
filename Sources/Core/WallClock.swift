import struct Foundation.Date

/// Wall-clock time in milliseconds since 1970: the unit of decision timestamps, session
/// times and registry leases. A parameter wherever it is read, so tests can fix it.
public struct WallClock: Sendable {
    /// Reads the time.
    public let milliseconds: @Sendable () -> Int64

    /// A wall clock that reads `milliseconds`.
    public init(_ milliseconds: @escaping @Sendable () -> Int64) {
        self.milliseconds = milliseconds
    }

    /// The system's clock.
    public static let system = WallClock { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// A clock that always says `milliseconds`.
    public static func fixed(_ milliseconds: Int64) -> WallClock { WallClock { milliseconds } }
}
