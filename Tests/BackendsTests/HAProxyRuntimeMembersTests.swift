import Logging
import Synchronization
import Testing
import WSScaleCore
@testable import WSScaleBackends

/// `HAPROXY_RUNTIME_API` entries as fleet members: a socket or an address is one instance, a
/// name every address it resolves to at each call (the resolver is the test's, except in the
/// last check, which asks the machine's).
@Suite struct HAProxyRuntimeMembersTests {
    /// A stand-in adapter that says which address it was made for.
    final class MadeProxy: TrafficProxy, @unchecked Sendable {
        let address: ServiceAddress
        init(_ address: ServiceAddress) { self.address = address }
        func read() async throws -> ProxyReading { ProxyReading(servers: [], queued: 0) }
        func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws {}
        func add(_ id: InstanceID, at endpoint: Endpoint) async throws {}
        func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {}
        func remove(_ id: InstanceID, cuttingSessions: Bool) async throws {}
    }

    @Test("a name is every address it resolves to now; sockets and addresses are one each; an adapter is kept while its address is listed")
    func namesResolveAtEveryCall() async throws {
        let answers = Mutex<[String]>(["10.0.2.6", "10.0.2.5"])
        let made = Mutex(0)
        let members = HAProxyRuntimeMembers(
            addresses: [.unixSocket(path: "/run/haproxy.sock"), .tcp(host: "127.0.0.1", port: 9999), .tcp(host: "tasks.haproxy", port: 9999)],
            makeProxy: { address in made.withLock { $0 += 1 }; return MadeProxy(address) },
            resolve: { host in
                #expect(host == "tasks.haproxy")
                return answers.withLock { $0 }
            },
            logger: Logger(label: "test.haproxy-members"))
        let first = await members.members()
        #expect(first.map(\.name) == ["unix:///run/haproxy.sock", "tcp://127.0.0.1:9999",
                                      "tcp://tasks.haproxy:9999 (10.0.2.5)", "tcp://tasks.haproxy:9999 (10.0.2.6)"])
        #expect(first.compactMap { ($0.proxy as? MadeProxy)?.address.description }
                == ["unix:///run/haproxy.sock", "tcp://127.0.0.1:9999", "tcp://10.0.2.5:9999", "tcp://10.0.2.6:9999"])
        #expect(made.withLock { $0 } == 4)

        // A node joins, another leaves: one adapter made, the kept ones the same.
        answers.withLock { $0 = ["10.0.2.6", "10.0.2.7"] }
        let second = await members.members()
        #expect(second.map(\.name).suffix(2) == ["tcp://tasks.haproxy:9999 (10.0.2.6)", "tcp://tasks.haproxy:9999 (10.0.2.7)"])
        #expect(made.withLock { $0 } == 5)
        #expect((second[2].proxy as? MadeProxy) === (first[3].proxy as? MadeProxy))
    }

    @Test("a name that does not resolve gives no instance, and the others are still there")
    func anUnresolvedNameGivesNone() async {
        struct NoSuchHost: Error {}
        let members = HAProxyRuntimeMembers(addresses: [.tcp(host: "tasks.gone", port: 9999), .unixSocket(path: "/run/a.sock")],
                                            makeProxy: { MadeProxy($0) }, resolve: { _ in throw NoSuchHost() },
                                            logger: Logger(label: "test.haproxy-members"))
        #expect(await members.members().map(\.name) == ["unix:///run/a.sock"])
    }

    @Test("the machine's resolver: localhost includes 127.0.0.1; a name that cannot exist throws")
    func systemResolver() async throws {
        #expect(try await HAProxyRuntimeMembers.systemResolve("localhost").contains("127.0.0.1"))
        await #expect(throws: HAProxyError.self) { try await HAProxyRuntimeMembers.systemResolve("no-such-host.invalid") }
        #expect(HAProxyRuntimeMembers.isNumeric("127.0.0.1") && HAProxyRuntimeMembers.isNumeric("::1"))
        #expect(!HAProxyRuntimeMembers.isNumeric("tasks.haproxy"))
    }
}
