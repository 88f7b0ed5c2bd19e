import Foundation
import WSScaleCore

/// Whether a live process named by a pid file is one of this pool's servers, before the
/// process backend adopts it (and may later stop its process group).
///
/// A pid file is only a claim: the pid may have been reused, or the file written by someone
/// else. The process is adopted only when
/// - the pid file records a start time and the process has that start time (not a reused pid);
/// - its environment at launch says it is this instance of this pool: `SERVER_ID=<id>` and
///   `WSSCALE_POOL=<pool>`, both set by the driver when it launched it.
public enum ProcessAdoptionCheck {
    /// Why the process may not be adopted, or `nil` when it may (pure).
    /// - Parameters:
    ///   - record: the pid file.
    ///   - pool: the driver's pool.
    ///   - startTime: the live process's start time (`/proc/PID/stat`), when readable.
    ///   - environment: its launch environment (`/proc/PID/environ`), when readable.
    public static func problem(record: ProcessPidFile, pool: String, startTime: UInt64?,
                               environment: [String: String]?) -> String? {
        guard let recorded = record.startTime else { return "the pid file has no start time" }
        guard let startTime, startTime == recorded else {
            return "its start time is not the recorded one (the pid was reused)"
        }
        guard let environment else { return "its environment cannot be read" }
        guard environment["SERVER_ID"] == record.id else {
            return "it is not server \(record.id) (SERVER_ID is \(environment["SERVER_ID"].map { "\"\($0)\"" } ?? "unset"))"
        }
        guard environment["WSSCALE_POOL"] == pool else {
            return "it is not of pool \(pool) (WSSCALE_POOL is \(environment["WSSCALE_POOL"].map { "\"\($0)\"" } ?? "unset"))"
        }
        return nil
    }

    /// A process's launch environment, from `/proc/PID/environ` (NUL-separated `NAME=value`).
    public static func environment(of pid: Int32) -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        return parseEnviron(data)
    }

    /// Parses the text of `/proc/PID/environ`.
    static func parseEnviron(_ data: Data) -> [String: String] {
        var values: [String: String] = [:]
        for entry in data.split(separator: 0) {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
            values[name] = String(decoding: entry[entry.index(after: equals)...], as: UTF8.self)
        }
        return values
    }
}
