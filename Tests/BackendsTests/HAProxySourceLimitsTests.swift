import Foundation
import Logging
import Testing
@testable import WSScaleBackends
import WSScaleTestSupport

/// The per-address limits on the real HAProxy's traffic port: connections over
/// `LB_MAX_CONNECTIONS_PER_SOURCE` at once, or over `LB_MAX_NEW_CONNECTIONS_PER_SOURCE` per
/// 10 s, are closed at once; the others stay.
@Suite("HAProxy: what one client address may do")
struct HAProxySourceLimitsTests {
    func withHAProxy(_ limits: HAProxySourceLimits, _ body: (Int) async throws -> Void) async throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let traffic = try #require(LoopbackPort.free())
        // A long http-request timeout: the connections kept open are closed only by the limits.
        let configuration = HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock", trafficBind: "127.0.0.1:\(traffic)",
                                                 statsBind: nil, backendName: "servers", httpRequestTimeout: .seconds(300),
                                                 sourceLimits: limits)
        let haproxy = try await HAProxyProcess.start(configuration, in: directory, logger: Logger(label: "test.haproxy"))
        do { try await body(traffic) } catch {
            await haproxy.stop(grace: .seconds(1))
            throw error
        }
        await haproxy.stop(grace: .seconds(1))
    }

    // HAProxy's threads take connections in their own order: which ones are closed is theirs
    // to choose, how many is the rule.

    @Test("at most LB_MAX_CONNECTIONS_PER_SOURCE at once: of 5 connections with a limit of 3, 2 are closed")
    func concurrentConnections() async throws {
        try await withHAProxy(HAProxySourceLimits(maxConnections: 3, maxNewConnections: 1000)) { port in
            let crowd = try await SlowlorisCrowd.open(count: 5, port: port)
            #expect(await TestSupport.eventually { crowd.closedByListener() >= 2 })
            #expect(crowd.closedByListener() == 2)
        }
    }

    @Test("at most LB_MAX_NEW_CONNECTIONS_PER_SOURCE per 10 s: of 8 new connections with a limit of 5, 3 are closed")
    func connectionRate() async throws {
        try await withHAProxy(HAProxySourceLimits(maxConnections: 1000, maxNewConnections: 5)) { port in
            let crowd = try await SlowlorisCrowd.open(count: 8, port: port)
            #expect(await TestSupport.eventually { crowd.closedByListener() >= 3 })
            #expect(crowd.closedByListener() == 3)
        }
    }

    @Test("the committed files' form reads the limits from HAProxy's environment")
    func valuesFromTheEnvironment() throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/haproxy.cfg"
        try HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock", trafficBind: "127.0.0.1:1",
                                 statsBind: nil, sourceLimits: HAProxySourceLimits(fromEnvironment: true)).write(to: path)
        let defaults = TestCommand.run("haproxy", ["-c", "-f", path])
        #expect(defaults.status == 0, "\(defaults.output)")
        // A value HAProxy cannot read as a number is refused: so it did read the variable.
        let bad = TestCommand.run("haproxy", ["-c", "-f", path], environment: ["LB_MAX_CONNECTIONS_PER_SOURCE": "many"])
        #expect(bad.status != 0, "\(bad.output)")
    }
}
