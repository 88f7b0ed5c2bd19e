import WSScaleCore

extension ServiceAddress {
    /// The URL prefix curl is given (`http://localhost` over a unix socket, where the host
    /// only fills the `Host` header).
    var urlPrefix: String {
        switch self {
        case .unixSocket: return "http://localhost"
        case let .tcp(host, port): return host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        }
    }
}
