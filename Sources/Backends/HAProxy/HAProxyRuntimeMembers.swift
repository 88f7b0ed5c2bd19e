#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix
import Synchronization
import WSScaleCore

/// The HAProxy instances `HAPROXY_RUNTIME_API` names, found again at every reading and change
/// of the `ProxyFleet`: a unix socket or an IP address is one instance; a host name is every
/// address it resolves to now, one instance each (`tcp://tasks.haproxy:9999` in a swarm: one
/// HAProxy task per node, as many as there are nodes). An instance that appears is brought up
/// to date at the next wake; one whose address is gone is no longer asked.
///
/// Each instance is named by its entry, with the address a name resolved to
/// (`tcp://tasks.haproxy:9999 (10.0.2.5)`), in the topology and the metrics. A name that does
/// not resolve gives no instance (and a warning); the fleet fails only when no entry gives one.
public final class HAProxyRuntimeMembers: ProxyMemberSource {
    /// Resolves a host name to its addresses (numeric, IPv4 and IPv6).
    public typealias Resolver = @Sendable (_ host: String) async throws -> [String]

    private let addresses: [ServiceAddress]
    private let makeProxy: @Sendable (ServiceAddress) -> any TrafficProxy
    private let resolve: Resolver
    private let logger: Logger
    /// The adapters made so far, by instance name (kept while their address is listed).
    private let made = Mutex<[String: any TrafficProxy]>([:])

    /// The instances of `addresses`.
    /// - Parameters:
    ///   - addresses: the runtime APIs, as `HAPROXY_RUNTIME_API` lists them.
    ///   - makeProxy: the adapter of one instance's runtime API.
    ///   - resolve: the host name resolver (`getaddrinfo` on NIO's thread pool unless given).
    ///   - logger: where a name that does not resolve is reported.
    public init(addresses: [ServiceAddress], makeProxy: @escaping @Sendable (ServiceAddress) -> any TrafficProxy,
                resolve: @escaping Resolver = HAProxyRuntimeMembers.systemResolve, logger: Logger) {
        self.addresses = addresses
        self.makeProxy = makeProxy
        self.resolve = resolve
        self.logger = logger
    }

    /// The instances now, in the order of the entries (a name's addresses sorted).
    public func members() async -> [ProxyFleet.Member] {
        var found: [(name: String, address: ServiceAddress)] = []
        for address in addresses {
            guard case let .tcp(host, port) = address, !Self.isNumeric(host) else {
                found.append((address.description, address))
                continue
            }
            do {
                for resolved in Set(try await resolve(host)).sorted() {
                    found.append(("\(address) (\(resolved))", .tcp(host: resolved, port: port)))
                }
            } catch {
                logger.warning("HAProxy's runtime API name does not resolve; no instance from it now",
                               metadata: ["address": "\(address)", "error": "\(error)"])
            }
        }
        return made.withLock { made in
            let members = found.map { entry in
                let proxy = made[entry.name] ?? makeProxy(entry.address)
                made[entry.name] = proxy
                return ProxyFleet.Member(name: entry.name, proxy: proxy)
            }
            let listed = Set(found.map(\.name))
            made = made.filter { listed.contains($0.key) }
            return members
        }
    }

    public var description: String {
        addresses.map(\.description).joined(separator: ", ")
    }

    /// Whether `host` is an IPv4 or IPv6 address (not a name).
    static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Every address `host` resolves to (`getaddrinfo`), on NIO's thread pool: never on an event loop.
    public static let systemResolve: Resolver = { host in
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &list)
            guard status == 0 else {
                throw HAProxyError("\(host) does not resolve: \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(list) }
            var addresses: [String] = []
            var entry = list
            while let current = entry {
                var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &text, socklen_t(text.count),
                               nil, 0, NI_NUMERICHOST) == 0 {
                    addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
                entry = current.pointee.ai_next
            }
            return addresses
        }
    }
}
