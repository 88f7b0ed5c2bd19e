import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import WSScaleBalancer
import WSScaleCore
import WSScaleDashboard
import WSScaleTestSupport

/// Slow clients (slowloris) against the balancer's API and the dashboard, which share the
/// listener limits of every Hummingbird listener (`HTTPServerBuilder.http1(within:)`): 5,000
/// half-sent requests, `/health` still answers while they are held, and every one is closed
/// after `HTTP_REQUEST_TIMEOUT_SECONDS`. One at a time, each listener on a loop of its own
/// (as the server's and the client simulator's slowloris tests), so 5,000 sockets do not
/// starve the tests beside them.
@Suite("slowloris against the balancer's API and the dashboard", .serialized, .timeLimit(.minutes(2)))
struct ListenerSlowlorisTests {
    static let limits = HTTPListenerLimits(requestTimeout: .seconds(2), maxConnections: 1024)
    static let logger = Logger(label: "ListenerSlowlorisTests")

    /// What a listener under test is made from: its loops and a callback that hears its channel once it listens.
    typealias MakeListener = (EventLoopGroupProvider, @escaping @Sendable (any Channel) async -> Void) -> any Service

    /// Serves what `make` returns on a port of its own, attacks it with 5,000 half requests and
    /// checks that `/health` answered during the attack and that all were closed.
    func attack(_ listener: String, _ make: MakeListener) async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (ports, port) = AsyncStream<Int>.makeStream()
        let service = make(.shared(loops)) { channel in
            port.yield(channel.localAddress?.port ?? 0)
            port.finish()
        }
        let group = ServiceGroup(services: [service], logger: Self.logger)
        let running = Task { try await group.run() }
        var listening = ports.makeAsyncIterator()
        let bound = try #require(await listening.next())

        let figures = try await SlowlorisCrowd.attack(port: bound, limits: Self.limits)
        #expect(figures.evicted >= figures.count - Self.limits.maxConnections,
                "the oldest are closed to keep \(Self.limits.maxConnections) at most: closed \(figures.evicted)")
        #expect(figures.healthStatus == 200)
        #expect(figures.closed == figures.count, "still open: \(figures.count - figures.closed)")
        #expect(figures.allClosedAfter >= Self.limits.requestTimeout)
        print("slowloris (\(listener)): \(figures)")

        await group.triggerGracefulShutdown()
        try await running.value
        try await loops.shutdownGracefully()
    }

    @Test("the balancer's API: 5,000 half-sent requests, /health still answers, all are closed")
    func balancerAPI() async throws {
        let status = PoolStatus(driver: "process", dryRun: false, connectionLimitPerHost: 10, instances: [],
                                totalSessions: 0, utilizationPercent: 0, decisions: [], observedAt: 0, lastError: nil)
        try await attack("balancer API") { loops, onRunning in
            BalancerAPI(status: { status }).makeApplication(host: "127.0.0.1", port: 0, limits: Self.limits,
                                                             eventLoopGroup: loops, onServerRunning: onRunning,
                                                             logger: Self.logger)
        }
    }

    @Test("the dashboard: 5,000 half-sent requests, /health still answers, all are closed")
    func dashboard() async throws {
        try await attack("dashboard") { loops, onRunning in
            DashboardAPI(settings: DashboardSettings(), logger: Self.logger)
                .makeApplication(host: "127.0.0.1", port: 0, limits: Self.limits, eventLoopGroup: loops,
                                 onServerRunning: onRunning, logger: Self.logger)
        }
    }
}
