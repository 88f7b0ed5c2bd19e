import Foundation

/// A request target split into its API version, path segments and query. Pure.
struct EngineProxyTarget: Equatable {
    /// The path as sent (`/v1.41/containers/json`).
    var path: String
    /// The version prefix without `v` (`1.41`), if any.
    var version: String?
    /// The segments after the version.
    var segments: [String]
    /// The raw query (without `?`).
    var query: String

    /// `nil` unless the path is made of `[A-Za-z0-9_.-]` segments (no `%`, no empty, `.` or
    /// `..` segment) and the query has no fragment.
    init?(parsing uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        query = parts.count > 1 ? String(parts[1]) : ""
        guard path.hasPrefix("/"), path.utf8.count <= 512, !query.contains("#") else { return nil }
        var segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && ContainerDriver.isValidName($0) || $0 == "_ping" }) else { return nil }
        if let first = segments.first, first.hasPrefix("v"), first.dropFirst().first?.isNumber == true {
            version = String(first.dropFirst())
            segments.removeFirst()
        }
        self.path = path
        self.segments = segments
    }

    /// The query's parameters, decoded (`+` as a space, as Go reads it); `nil` when a name
    /// repeats or a part cannot be decoded.
    func decodedQuery() -> [String: String]? {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(halves[0]), let value = halves.count > 1 ? decode(halves[1]) : "",
                  result[name] == nil else { return nil }
            result[name] = value
        }
        return result
    }
}
