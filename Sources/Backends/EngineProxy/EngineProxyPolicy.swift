import Foundation
import WSScaleCore

/// One request as the engine proxy received it.
public struct EngineProxyRequest: Sendable, Equatable {
    /// `GET`, `POST` …
    public var method: String
    /// The request target: path and query, as sent.
    public var uri: String
    /// The body (empty when none).
    public var body: Data
    /// Whether the body came with a `Content-Encoding` (never let through: it would hide it).
    public var isEncoded: Bool

    /// Creates a request.
    public init(method: String, uri: String, body: Data = Data(), isEncoded: Bool = false) {
        self.method = method
        self.uri = uri
        self.body = body
        self.isEncoded = isEncoded
    }
}

/// What the engine proxy does with one request.
public enum EngineProxyDecision: Sendable, Equatable {
    /// Sends this request to the engine: the target rebuilt from what was checked (query
    /// parameters decoded and encoded again) and, for a create, the body encoded again from
    /// the checked JSON.
    case forward(method: String, uri: String, body: Data?)
    /// Answers the caller itself with this status and reason; the engine sees nothing.
    case refuse(status: Int, reason: String)
}

/// The engine proxy's rules: the Docker Engine API calls the balancer's Docker driver
/// makes, for one pool, and nothing else. Everything not allowed below is refused. Pure.
///
/// | call | allowed when |
/// |---|---|
/// | `GET/HEAD /_ping`, `/version` | no query |
/// | `GET /containers/json` | `all`, `filters`; the filters name the label `wsscale.pool=<pool>` |
/// | `GET /events` | `filters`, `since`, `until`; the filters name the pool's label |
/// | `GET /containers/{name}/json` | `name` starts with `<pool>-` |
/// | `POST /containers/create?name=…` | the name starts with `<pool>-`; the body passes `DockerCreateBodyRule` |
/// | `POST /containers/{name}/start` | prefixed name, no body |
/// | `POST /containers/{name}/stop?t=…` | prefixed name, no body, `t` in 0…3600 |
/// | `DELETE /containers/{name}?v=…&force=…` | prefixed name |
///
/// Paths may carry an API version prefix from `/v1.24` on (older versions took a
/// HostConfig in the body of `/start`). A name is never an id: ids are hexadecimal and the
/// prefix ends in `-`, so a prefixed name can only mean the container with that name.
public struct EngineProxyPolicy: Sendable, Equatable {
    /// The pool whose containers may be touched.
    public var pool: String
    /// The image creates must name.
    public var image: String
    /// The command creates must carry (`nil`: none, the image's own).
    public var command: [String]?
    /// The network creates must join (`NetworkMode`); `nil`: the engine's default, unnamed.
    public var network: String?
    /// The host address ports may be published on; `nil`: nothing may be published.
    public var publishAddress: String?
    /// The compose project whose labels creates must carry, exactly (`nil`: none allowed).
    public var composeProject: String?
    /// The largest body read (a create's is under 2 KB).
    public static let maximumBodyBytes = 64 * 1024

    /// The rules for the pool a Docker driver configuration describes.
    public init(configuration: ContainerDriverConfiguration) {
        pool = configuration.pool
        composeProject = configuration.composeProject
        image = configuration.image
        command = configuration.command
        switch configuration.reachability {
        case let .publish(address, network):
            publishAddress = address
            self.network = network
        case let .network(name):
            publishAddress = nil
            network = name
        }
    }

    /// The names containers of the pool carry: `<pool>-…`.
    public var namePrefix: String { pool + "-" }

    /// Whether `request` goes to the engine, and as what.
    public func decide(_ request: EngineProxyRequest) -> EngineProxyDecision {
        guard let target = EngineProxyTarget(parsing: request.uri) else {
            return .refuse(status: 400, reason: "the request target is not a plain path (letters, digits, '/', '_', '.', '-') with an optional query")
        }
        if let version = target.version, !Self.isAllowedVersion(version) {
            return .refuse(status: 403, reason: "API version \(version) is older than 1.24")
        }
        if request.isEncoded { return .refuse(status: 403, reason: "an encoded body is not read") }
        let segments = target.segments
        switch (request.method, segments.count) {
        case ("GET", 1) where segments == ["_ping"], ("HEAD", 1) where segments == ["_ping"],
             ("GET", 1) where segments == ["version"]:
            return noQuery(target, request) ?? forward(request, target, query: [:])
        case ("GET", 2) where segments == ["containers", "json"]:
            return filtered(request, target, allowed: ["all", "filters"])
        case ("GET", 1) where segments == ["events"]:
            return filtered(request, target, allowed: ["filters", "since", "until"])
        case ("GET", 3) where segments[0] == "containers" && segments[2] == "json":
            return nameProblem(segments[1]) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("POST", 2) where segments == ["containers", "create"]:
            return create(request, target)
        case ("POST", 3) where segments[0] == "containers" && segments[2] == "start":
            return nameProblem(segments[1]) ?? noBody(request) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("POST", 3) where segments[0] == "containers" && segments[2] == "stop":
            if let refusal = nameProblem(segments[1]) ?? noBody(request) { return refusal }
            return query(target, allowed: ["t"]) { query in
                if let seconds = query["t"], !(Int(seconds).map { (0...3600).contains($0) } ?? false) {
                    return "t must be whole seconds in 0…3600, got \"\(seconds)\""
                }
                return nil
            }.map { forward(request, target, query: $0) } ?? refusedQuery(target, allowed: ["t"])
        case ("DELETE", 2) where segments[0] == "containers":
            if let refusal = nameProblem(segments[1]) ?? noBody(request) { return refusal }
            let flags: Set<String> = ["0", "1", "true", "false"]
            return query(target, allowed: ["v", "force"]) { query in
                query.values.allSatisfy(flags.contains) ? nil : "v and force take 0, 1, true or false"
            }.map { forward(request, target, query: $0) } ?? refusedQuery(target, allowed: ["v", "force"])
        default:
            return .refuse(status: 403, reason: "\(request.method) \(target.path) is not a call wsscale makes")
        }
    }

    // MARK: - The rules

    /// API versions 1.24 to 1.99.
    static func isAllowedVersion(_ version: String) -> Bool {
        let parts = version.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return false }
        return major == 1 && (24...99).contains(minor)
    }

    /// A refusal unless `name` is one of the pool's container names.
    func nameProblem(_ name: String) -> EngineProxyDecision? {
        guard name.hasPrefix(namePrefix), name.count > namePrefix.count, name.utf8.count <= 128,
              ContainerDriver.isValidName(name) else {
            return .refuse(status: 403, reason: "container \"\(name)\" is not one of the pool's (its name must start with \"\(namePrefix)\")")
        }
        return nil
    }

    private func noBody(_ request: EngineProxyRequest) -> EngineProxyDecision? {
        request.body.isEmpty ? nil : .refuse(status: 403, reason: "\(request.method) \(request.uri) takes no body")
    }

    private func noQuery(_ target: EngineProxyTarget, _ request: EngineProxyRequest) -> EngineProxyDecision? {
        target.query.isEmpty ? nil : .refuse(status: 403, reason: "\(target.path) takes no query parameters")
    }

    /// The decoded query when its names are allowed, unique, and `check` finds no problem.
    private func query(_ target: EngineProxyTarget, allowed: Set<String>, check: ([String: String]) -> String? = { _ in nil }) -> [String: String]? {
        guard let query = target.decodedQuery(), Set(query.keys).isSubset(of: allowed), check(query) == nil else { return nil }
        return query
    }

    private func refusedQuery(_ target: EngineProxyTarget, allowed: Set<String>) -> EngineProxyDecision {
        .refuse(status: 403, reason: "\(target.path) takes only the query parameters \(allowed.sorted().joined(separator: ", ")), each once, with the values wsscale sends")
    }

    /// Listings and events: only through filters that name the pool's label.
    private func filtered(_ request: EngineProxyRequest, _ target: EngineProxyTarget, allowed: Set<String>) -> EngineProxyDecision {
        if let refusal = noBody(request) { return refusal }
        let poolLabel = "\(ContainerLabel.pool)=\(pool)"
        guard let query = query(target, allowed: allowed) else { return refusedQuery(target, allowed: allowed) }
        guard let text = query["filters"], let filters = try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8)),
              filters["label"]?.contains(poolLabel) == true else {
            return .refuse(status: 403, reason: "\(target.path) needs filters={\"label\":[\"\(poolLabel)\"]}: only the pool's containers are shown")
        }
        return forward(request, target, query: query)
    }

    /// `POST /containers/create?name=<pool>-…` with a body `DockerCreateBodyRule` accepts.
    private func create(_ request: EngineProxyRequest, _ target: EngineProxyTarget) -> EngineProxyDecision {
        guard let query = query(target, allowed: ["name"]), let name = query["name"] else {
            return .refuse(status: 403, reason: "a create needs ?name=\(namePrefix)… and nothing else in its query")
        }
        if let refusal = nameProblem(name) { return refusal }
        switch DockerCreateBodyRule(policy: self).check(request.body) {
        case let .success(body): return forward(request, target, query: query, body: body)
        case let .failure(problem): return .refuse(status: 403, reason: "the create body: \(problem.reason)")
        }
    }

    private func forward(_ request: EngineProxyRequest, _ target: EngineProxyTarget, query: [String: String], body: Data? = nil) -> EngineProxyDecision {
        let encoded = HTTPQuery.encode(query)
        return .forward(method: request.method, uri: target.path + (encoded.isEmpty ? "" : "?" + encoded), body: body)
    }
}

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
