import Foundation
import WSScaleCore

/// What the process backend writes about one running instance, so a later run of the
/// balancer can find it again: `<stateDirectory>/<pool>/<id>.pid`.
///
/// The format is `key=value` lines (`pid`, `port`, `host`, `started`); `started` is the
/// kernel's start time of the process and tells a live instance from a reused pid.
public struct ProcessPidFile: Sendable, Equatable {
    /// The instance.
    public var id: InstanceID
    /// Its process id.
    public var pid: Int32
    /// Where it listens.
    public var endpoint: Endpoint
    /// The process's start time in clock ticks since boot, when known.
    public var startTime: UInt64?

    /// Creates a record.
    public init(id: InstanceID, pid: Int32, endpoint: Endpoint, startTime: UInt64?) {
        self.id = id
        self.pid = pid
        self.endpoint = endpoint
        self.startTime = startTime
    }

    /// The file's text.
    public func render() -> String {
        var lines = ["pid=\(pid)", "host=\(endpoint.host)", "port=\(endpoint.port)"]
        if let startTime { lines.append("started=\(startTime)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a record back from the file's text.
    /// - Parameters:
    ///   - text: the file's content.
    ///   - id: the instance, taken from the file name.
    /// - Returns: the record, or `nil` when `pid` or `port` is missing or malformed.
    public static func parse(_ text: String, id: InstanceID) -> ProcessPidFile? {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            values[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        guard let pid = values["pid"].flatMap(Int32.init), pid > 0,
              let port = values["port"].flatMap(Int.init), (1...65535).contains(port) else { return nil }
        return ProcessPidFile(id: id, pid: pid, endpoint: Endpoint(host: values["host"] ?? "127.0.0.1", port: port),
                              startTime: values["started"].flatMap(UInt64.init))
    }
}

/// The folder of one pool's pid files and logs.
public struct ProcessPoolDirectory: Sendable {
    /// `<stateDirectory>/<pool>`.
    public let path: String

    /// Names the folder of a pool.
    public init(stateDirectory: String, pool: String) {
        self.path = (stateDirectory as NSString).appendingPathComponent(pool)
    }

    /// Where an instance's pid file lives.
    public func pidFilePath(_ id: InstanceID) -> String { "\(path)/\(id).pid" }
    /// Where an instance's stdout and stderr go.
    public func logPath(_ id: InstanceID) -> String { "\(path)/\(id).log" }

    /// Creates the folder if needed.
    public func create() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes a pid file atomically (temporary file, then rename).
    public func write(_ record: ProcessPidFile) throws {
        try record.render().write(toFile: pidFilePath(record.id), atomically: true, encoding: .utf8)
    }

    /// Reads one instance's pid file, if it exists and parses.
    public func read(_ id: InstanceID) -> ProcessPidFile? {
        guard let text = try? String(contentsOfFile: pidFilePath(id), encoding: .utf8) else { return nil }
        return ProcessPidFile.parse(text, id: id)
    }

    /// The ids of every pid file in the folder.
    public func instanceIDs() -> [InstanceID] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".pid") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Removes an instance's pid file (and its log when asked).
    public func remove(_ id: InstanceID, includingLog: Bool = false) {
        try? FileManager.default.removeItem(atPath: pidFilePath(id))
        if includingLog { try? FileManager.default.removeItem(atPath: logPath(id)) }
    }
}
