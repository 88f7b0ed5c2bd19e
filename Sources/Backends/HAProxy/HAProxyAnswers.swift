import Foundation
import WSScaleCore

/// One server of a backend as HAProxy reports it, joined from `show servers state` and `show stat`.
public struct HAProxyServerStatus: Sendable, Equatable {
    /// The server's name (the instance id).
    public var name: String
    /// Its address and port.
    public var endpoint: Endpoint
    /// `srv_op_state`: 0 stopped (down), 1 starting, 2 running, 3 stopping.
    public var operationalState: Int
    /// `srv_admin_state`: a mask (0x01 forced maintenance, 0x08 forced drain, …).
    public var adminState: Int
    /// `scur` from `show stat`: sessions currently open to the server.
    public var currentSessions: Int
    /// `status` from `show stat` (`UP`, `DOWN`, `MAINT`, `DRAIN`, `no check` …).
    public var status: String
    /// `check_status` from `show stat` (`L7OK`, `L7STS`, `L4CON`, `INI` …), empty when unchecked.
    public var checkStatus: String
    /// `slim` from `show stat`: the server's `maxconn`; `nil` when it has none.
    public var connectionLimit: Int?

    /// Creates a server status.
    public init(name: String, endpoint: Endpoint, operationalState: Int, adminState: Int,
                currentSessions: Int, status: String, checkStatus: String, connectionLimit: Int? = nil) {
        self.name = name
        self.endpoint = endpoint
        self.operationalState = operationalState
        self.adminState = adminState
        self.currentSessions = currentSessions
        self.status = status
        self.checkStatus = checkStatus
        self.connectionLimit = connectionLimit
    }

    /// The administrative state: any maintenance bit wins over drain, drain over ready.
    public var state: ProxyServerState {
        let maintenanceBits = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
        let drainBits = 0x08 | 0x10
        if adminState & maintenanceBits != 0 { return .maintenance }
        if adminState & drainBits != 0 { return .drain }
        return .ready
    }

    /// Whether HAProxy sees the server up (its check passes): op state starting, running or stopping.
    public var healthy: Bool {
        state != .maintenance && (1...3).contains(operationalState)
    }

    /// The same server in the proxy protocol's terms.
    public var proxyServer: ProxyServer {
        ProxyServer(id: name, endpoint: endpoint, state: state, healthy: healthy, currentConnections: currentSessions,
                       connectionLimit: connectionLimit)
    }
}

/// Parsers for the runtime API's text answers. Pure functions, no I/O.
public enum HAProxyAnswers {
    /// Parses `show info` (`Name: value` lines).
    public static func parseInfo(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[key] = value
        }
        return fields
    }

    /// One data row of `show servers state`, by column name. A column named twice in the
    /// header keeps its first value (a header is HAProxy's to write, but must not trap us).
    public static func parseServersState(_ text: String) -> [[String: String]] {
        var header: [String] = []
        var rows: [[String: String]] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("#") {
                header = line.dropFirst().split(separator: " ").map(String.init)
                continue
            }
            let values = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard !header.isEmpty, values.count >= header.count else { continue }
            rows.append(Dictionary(zip(header, values), uniquingKeysWith: { first, _ in first }))
        }
        return rows
    }

    /// One data row of `show stat` (CSV), by column name.
    public static func parseStat(_ text: String) -> [[String: String]] {
        var header: [String] = []
        var rows: [[String: String]] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("# ") {
                header = line.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                continue
            }
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !header.isEmpty, values.count >= 2 else { continue }
            var row: [String: String] = [:]
            for (key, value) in zip(header, values) where !key.isEmpty { row[key] = value }
            rows.append(row)
        }
        return rows
    }

    /// Joins `show servers state <backend>` and `show stat` into one status per server of
    /// the backend (frontend / backend summary rows and other backends are left out).
    /// - Parameters:
    ///   - serversState: the answer to `show servers state <backend>`.
    ///   - stat: the answer to `show stat <backend> 6 -1` (or a wider `show stat`).
    ///   - backend: the backend's name.
    public static func servers(serversState: String, stat: String, backend: String) -> [HAProxyServerStatus] {
        var statByName: [String: [String: String]] = [:]
        for row in parseStat(stat) where row["pxname"] == backend {
            guard let name = row["svname"], name != "FRONTEND", name != "BACKEND" else { continue }
            statByName[name] = row
        }
        return parseServersState(serversState).compactMap { row in
            guard row["be_name"] == backend, let name = row["srv_name"], let address = row["srv_addr"],
                  let port = row["srv_port"].flatMap(Int.init) else { return nil }
            let stat = statByName[name] ?? [:]
            return HAProxyServerStatus(
                name: name,
                endpoint: Endpoint(host: address, port: port),
                operationalState: row["srv_op_state"].flatMap(Int.init) ?? 0,
                adminState: row["srv_admin_state"].flatMap(Int.init) ?? 0,
                currentSessions: stat["scur"].flatMap(Int.init) ?? 0,
                status: stat["status"] ?? "",
                checkStatus: stat["check_status"] ?? "",
                connectionLimit: stat["slim"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil })
        }
    }

    /// The connections waiting in the backend's queue: `qcur` of its `BACKEND` row in
    /// `show stat <backend> 6 -1` (0 when the row is missing or unreadable).
    public static func queued(stat: String, backend: String) -> Int {
        let row = parseStat(stat).first { $0["pxname"] == backend && $0["svname"] == "BACKEND" }
        return max(0, row?["qcur"].flatMap(Int.init) ?? 0)
    }
}
