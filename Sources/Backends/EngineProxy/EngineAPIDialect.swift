import WSScaleCore

/// What differs between the two engine APIs the proxy fronts for the calls wsscale makes:
/// Docker's Engine API (`/v1.41/containers/…`) and Podman's libpod API
/// (`/v4.0.0/libpod/containers/…`). The calls are the same ones under the same paths once
/// the prefix is off; their version prefixes, a few query parameters, the filters and the
/// create body differ. Pure.
struct EngineAPIDialect: Equatable {
    /// Which engine's API.
    let engine: ContainerEngineKind

    /// The calls answered from no container and with no query (`GET`/`HEAD`): `_ping`, and
    /// for Docker `version`.
    var informationalCalls: Set<[String]> {
        engine == .docker ? [["_ping"], ["version"]] : [["_ping"]]
    }

    /// The query parameter of a stop's grace (`t`, `timeout`).
    var stopGraceParameter: String {
        engine == .docker ? "t" : "timeout"
    }

    /// The query parameters of `GET /events` (libpod's `stream` too: the driver asks for one).
    var eventParameters: Set<String> {
        engine == .docker ? ["filters", "since", "until"] : ["filters", "since", "until", "stream"]
    }

    /// The filter names a listing (`containers/json`) may carry besides the pool's label;
    /// `nil`: any (Docker's filters all narrow: labels are ANDed).
    var listFilterNames: Set<String>? {
        engine == .docker ? nil : ["label"]
    }

    /// The filter names the event stream may carry; `nil`: any.
    var eventFilterNames: Set<String>? {
        engine == .docker ? nil : ["label", "type", "event"]
    }

    /// Whether the pool's label must be the only `label` filter. Libpod ORs the values of one
    /// filter name in its event stream (and some versions in listings), so a second label
    /// would show other containers; Docker ANDs them.
    var poolLabelAlone: Bool { engine == .podman }

    /// The segments of the call, after the version and API prefix, or why the prefix is refused.
    /// - Docker: an optional version from 1.24 to 1.99 (older ones took a HostConfig in `/start`).
    /// - Podman: a version 4 or 5 (`/v4.0.0`) and then `libpod`; the unversioned and the
    ///   Docker-compatible paths are refused (they take Docker's create body, which the libpod
    ///   rules do not check).
    func callSegments(of target: EngineProxyTarget) -> Result<ArraySlice<String>, EngineProxyRefusal> {
        switch engine {
        case .docker:
            if let version = target.version, !Self.isDockerVersion(version) {
                return .failure(EngineProxyRefusal("API version \(version) is not a Docker API version from 1.24 to 1.99"))
            }
            if target.segments.first == "libpod" {
                return .failure(EngineProxyRefusal("\(target.path) is Podman's libpod API; this proxy fronts Docker (WSSCALE_ENGINE_PROXY_ENGINE=docker)"))
            }
            return .success(target.segments[...])
        case .podman:
            guard let version = target.version, Self.isLibpodVersion(version) else {
                return .failure(EngineProxyRefusal("\(target.path): this proxy fronts Podman and takes only /v4.x.y/libpod/… and /v5.x.y/libpod/… paths"))
            }
            guard target.segments.first == "libpod" else {
                return .failure(EngineProxyRefusal("\(target.path) is the Docker-compatible API; this proxy fronts Podman's libpod API only (/v\(version)/libpod/…)"))
            }
            return .success(target.segments.dropFirst())
        }
    }

    /// Docker API versions 1.24 to 1.99.
    static func isDockerVersion(_ version: String) -> Bool {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return false }
        return major == 1 && (24...99).contains(minor)
    }

    /// Libpod versions 4 and 5: `4`, `4.0`, `4.0.0`, `5.2.1` (numbers only).
    static func isLibpodVersion(_ version: String) -> Bool {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count),
              parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }) else { return false }
        return parts[0] == "4" || parts[0] == "5"
    }
}

/// Why the proxy refuses a call (answered `403`).
struct EngineProxyRefusal: Error, Equatable {
    /// Names the rule.
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}
