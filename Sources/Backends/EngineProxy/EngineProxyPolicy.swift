import Foundation
import WSScaleCore
import WSScaleCurlHTTP

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

/// The engine proxy's rules: the calls the balancer's Docker or Podman driver makes, for one
/// pool, and nothing else. Everything not allowed below is refused. Pure.
///
/// The engine (`configuration.engine`) picks the API: Docker's Engine API, or Podman's
/// libpod API (`EngineAPIDialect` holds what differs). After the prefix
/// (`/v1.24`…`/v1.99` or none for Docker; `/v4.x.y/libpod` or `/v5.x.y/libpod` for Podman):
///
/// | call | allowed when |
/// |---|---|
/// | `GET/HEAD /_ping` (and Docker's `GET /version`) | no query |
/// | `GET /containers/json` | `all`, `filters`; the filters name the label `wsscale.pool=<pool>` |
/// | `GET /events` | `filters`, `since`, `until` (libpod: and `stream`); the filters name the pool's label |
/// | `GET /containers/{name}/json` | `name` starts with `<pool>-` |
/// | `POST /containers/create` | Docker: `?name=<pool>-…` and a body `DockerCreateBodyRule` passes; libpod: no query and a body `LibpodCreateBodyRule` passes (its `name` prefixed) |
/// | `POST /containers/{name}/start` | prefixed name, no body |
/// | `POST /containers/{name}/stop?t=…` (libpod: `?timeout=…`) | prefixed name, no body, 0…3600 |
/// | `DELETE /containers/{name}?v=…&force=…` | prefixed name |
///
/// Listing and event filters are forwarded as they were read (encoded again), never as the
/// text that came, so a key given twice cannot mean one thing here and another to the engine.
///
/// In libpod mode the filters may name only the pool's label (and for events `type` and
/// `event`). A name is never an id: ids are hexadecimal and the prefix ends in `-`, so a
/// prefixed name can only mean the container with that name (Docker and Podman alike).
public struct EngineProxyPolicy: Sendable, Equatable {
    /// Which engine's API is allowed: Docker's Engine API or Podman's libpod API.
    public var engine: ContainerEngineKind
    /// The pool whose containers may be touched.
    public var pool: String
    /// The image creates must name.
    public var image: String
    /// The command creates must carry (`nil`: none, the image's own).
    public var command: [String]?
    /// The network creates must join (Docker's `NetworkMode`, libpod's `networks`); `nil`:
    /// the engine's default, unnamed.
    public var network: String?
    /// The host address ports may be published on; `nil`: nothing may be published.
    public var publishAddress: String?
    /// The compose project whose labels creates must carry, exactly (`nil`: none allowed).
    public var composeProject: String?
    /// Swarm mode: the pool's servers are swarm services (`EngineProxyPolicy+Swarm`), and no
    /// container call is allowed.
    public var swarm = false
    /// In swarm mode, the stack whose namespace label services carry, exactly (`nil`: none).
    public var swarmStack: String?
    /// The largest body read (a create's is under 2 KB).
    public static let maximumBodyBytes = 64 * 1024

    /// The rules for the pool a Docker or Podman driver configuration describes (its
    /// `engine` picks the API).
    public init(configuration: ContainerDriverConfiguration) {
        engine = configuration.engine
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

    /// What differs between the engines' APIs.
    var dialect: EngineAPIDialect { EngineAPIDialect(engine: engine) }

    /// Whether `request` goes to the engine, and as what.
    public func decide(_ request: EngineProxyRequest) -> EngineProxyDecision {
        guard let target = EngineProxyTarget(parsing: request.uri) else {
            return .refuse(status: 400, reason: "the request target is not a plain path (letters, digits, '/', '_', '.', '-') with an optional query")
        }
        let segments: [String]
        switch dialect.callSegments(of: target) {
        case let .success(callSegments): segments = Array(callSegments)
        case let .failure(refusal): return .refuse(status: 403, reason: refusal.reason)
        }
        if request.isEncoded { return .refuse(status: 403, reason: "an encoded body is not read") }
        if swarm { return decideSwarm(request, target, segments: segments) }
        switch (request.method, segments.count) {
        case ("GET", _) where dialect.informationalCalls.contains(segments),
             ("HEAD", 1) where segments == ["_ping"]:
            return noQuery(target, request) ?? forward(request, target, query: [:])
        case ("GET", 2) where segments == ["containers", "json"]:
            return filtered(request, target, allowed: ["all", "filters"], filterNames: dialect.listFilterNames)
        case ("GET", 1) where segments == ["events"]:
            return filtered(request, target, allowed: dialect.eventParameters, filterNames: dialect.eventFilterNames)
        case ("GET", 3) where segments[0] == "containers" && segments[2] == "json":
            return nameProblem(segments[1]) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("POST", 2) where segments == ["containers", "create"]:
            return create(request, target)
        case ("POST", 3) where segments[0] == "containers" && segments[2] == "start":
            return nameProblem(segments[1]) ?? noBody(request) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("POST", 3) where segments[0] == "containers" && segments[2] == "stop":
            if let refusal = nameProblem(segments[1]) ?? noBody(request) { return refusal }
            let grace = dialect.stopGraceParameter
            return query(target, allowed: [grace]) { query in
                if let seconds = query[grace], !(Int(seconds).map { (0...3600).contains($0) } ?? false) {
                    return "\(grace) must be whole seconds in 0…3600, got \"\(seconds)\""
                }
                return nil
            }.map { forward(request, target, query: $0) } ?? refusedQuery(target, allowed: [grace])
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

    /// Why `name` is not one of the pool's container names, or `nil` when it is.
    func poolNameProblem(_ name: String) -> String? {
        guard name.hasPrefix(namePrefix), name.count > namePrefix.count, name.utf8.count <= 128,
              ContainerDriver.isValidName(name) else {
            return "container \"\(name)\" is not one of the pool's (its name must start with \"\(namePrefix)\")"
        }
        return nil
    }

    /// A refusal unless `name` is one of the pool's container names.
    func nameProblem(_ name: String) -> EngineProxyDecision? {
        poolNameProblem(name).map { .refuse(status: 403, reason: $0) }
    }

    func noBody(_ request: EngineProxyRequest) -> EngineProxyDecision? {
        request.body.isEmpty ? nil : .refuse(status: 403, reason: "\(request.method) \(request.uri) takes no body")
    }

    func noQuery(_ target: EngineProxyTarget, _ request: EngineProxyRequest) -> EngineProxyDecision? {
        target.query.isEmpty ? nil : .refuse(status: 403, reason: "\(target.path) takes no query parameters")
    }

    /// The decoded query when its names are allowed, unique, and `check` finds no problem.
    func query(_ target: EngineProxyTarget, allowed: Set<String>, check: ([String: String]) -> String? = { _ in nil }) -> [String: String]? {
        guard let query = target.decodedQuery(), Set(query.keys).isSubset(of: allowed), check(query) == nil else { return nil }
        return query
    }

    func refusedQuery(_ target: EngineProxyTarget, allowed: Set<String>) -> EngineProxyDecision {
        .refuse(status: 403, reason: "\(target.path) takes only the query parameters \(allowed.sorted().joined(separator: ", ")), each once, with the values wsscale sends")
    }

    /// Listings and events: only through filters that name the pool's label (alone, when the
    /// dialect says so) and, when `filterNames` is given, no other filter names.
    func filtered(_ request: EngineProxyRequest, _ target: EngineProxyTarget, allowed: Set<String>,
                          filterNames: Set<String>?) -> EngineProxyDecision {
        if let refusal = noBody(request) { return refusal }
        let poolLabel = "\(ContainerLabel.pool)=\(pool)"
        guard let query = query(target, allowed: allowed) else { return refusedQuery(target, allowed: allowed) }
        guard let text = query["filters"], let filters = try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8)),
              let labels = filters["label"], labels.contains(poolLabel), !dialect.poolLabelAlone || labels == [poolLabel] else {
            let alone = dialect.poolLabelAlone ? " and no other label" : ""
            return .refuse(status: 403, reason: "\(target.path) needs filters={\"label\":[\"\(poolLabel)\"]}\(alone): only the pool's containers are shown")
        }
        if let filterNames, let extra = filters.keys.sorted().first(where: { !filterNames.contains($0) }) {
            return .refuse(status: 403, reason: "\(target.path) may filter only on \(filterNames.sorted().joined(separator: ", ")), not \"\(extra)\"")
        }
        // Forward what was checked, not the text that came: a key given twice
        // (`{"label":["wsscale.pool=P"],"label":[]}`) is read once here and would be read
        // otherwise by the engine, which keeps the last.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let checked = try? encoder.encode(filters) else {
            return .refuse(status: 403, reason: "\(target.path): the filters cannot be written again")
        }
        var forwarded = query
        forwarded["filters"] = String(decoding: checked, as: UTF8.self)
        return forward(request, target, query: forwarded)
    }

    /// A create: Docker's `?name=<pool>-…` with a body `DockerCreateBodyRule` accepts, or
    /// libpod's with no query and a body `LibpodCreateBodyRule` accepts (its `name` prefixed).
    private func create(_ request: EngineProxyRequest, _ target: EngineProxyTarget) -> EngineProxyDecision {
        let query: [String: String]
        let rule: any CreateBodyRule
        switch engine {
        case .docker:
            guard let named = self.query(target, allowed: ["name"]), let name = named["name"] else {
                return .refuse(status: 403, reason: "a create needs ?name=\(namePrefix)… and nothing else in its query")
            }
            if let refusal = nameProblem(name) { return refusal }
            query = named
            rule = DockerCreateBodyRule(policy: self)
        case .podman:
            guard target.query.isEmpty else {
                return .refuse(status: 403, reason: "a libpod create takes no query parameters (the name is the body's)")
            }
            query = [:]
            rule = LibpodCreateBodyRule(policy: self)
        }
        switch rule.check(request.body) {
        case let .success(body): return forward(request, target, query: query, body: body)
        case let .failure(problem): return .refuse(status: 403, reason: "the create body: \(problem.reason)")
        }
    }

    func forward(_ request: EngineProxyRequest, _ target: EngineProxyTarget, query: [String: String], body: Data? = nil) -> EngineProxyDecision {
        let encoded = HTTPQuery.encode(query)
        return .forward(method: request.method, uri: target.path + (encoded.isEmpty ? "" : "?" + encoded), body: body)
    }
}
