import Foundation
import NIOConcurrencyHelpers
import Prometheus
import WSScaleCore

/// The balancer's Prometheus metrics, refreshed from the pool status at each scrape.
///
/// Gauges: `wsscale_pool_instances{state}`, `wsscale_pool_sessions`, `wsscale_pool_queued`,
/// `wsscale_server_connection_limit`,
/// `wsscale_pool_utilization_percent`, `wsscale_instance_sessions{instance}`,
/// `wsscale_instance_proxy_connections{instance}`, `wsscale_instance_disagreement{instance}`;
/// `wsscale_instance_balancer_connections{instance}` is the deprecated name of the proxy's count
/// (from when "balancer" also meant HAProxy), still exported with the same value.
/// `wsscale_leader` (1 while this balancer leads the pool, 0 on a standby) and
/// `wsscale_leader_token` (the fencing token of the leader as last seen, 0 when none),
/// `wsscale_proxy_reachable{proxy}` (1 when that HAProxy instance answered the last reading)
/// and `wsscale_proxy_servers{proxy}` (the pool's servers it holds).
/// Counters: `wsscale_decisions_total{kind}`, `wsscale_decision_errors_total`, and under
/// `wsscale up` `wsscale_stack_restarts_total{process}` (restarts of redis-server, HAProxy).
public final class BalancerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let state = NIOLockedValueBox(State())

    private struct State {
        var lastSequence = 0
        var perInstance: [InstanceID: InstanceGauges] = [:]
    }

    private struct InstanceGauges {
        var sessions: Gauge
        var connections: Gauge
        var deprecatedConnections: Gauge
        var disagreement: Gauge
    }

    /// Creates an empty set of metrics.
    public init() {}

    /// Shows `wsscale_stack_restarts_total{process}` (at 0 until the first restart).
    /// - Parameter process: the program `wsscale up` supervises (`redis`, `haproxy`).
    public func declareStackProcess(_ process: String) {
        _ = stackRestarts(process)
    }

    /// Counts one restart in `wsscale_stack_restarts_total{process}`.
    /// - Parameter process: the program that was restarted (`redis`, `haproxy`).
    public func countStackRestart(process: String) {
        stackRestarts(process).increment()
    }

    private func stackRestarts(_ process: String) -> Counter {
        registry.makeCounter(descriptor: Self.stackRestarts, labels: [("process", process)])
    }

    /// Brings every metric up to date with `status` and renders the Prometheus text format.
    public func render(_ status: PoolStatus) -> String {
        state.withLockedValue { state in
            for instanceState in InstanceState.allCases {
                registry.makeGauge(descriptor: Self.poolInstances, labels: [("state", instanceState.rawValue)])
                    .set(to: Double(status.instances.filter { $0.state == instanceState }.count))
            }
            registry.makeGauge(descriptor: Self.poolSessions).set(to: Double(status.totalSessions))
            registry.makeGauge(descriptor: Self.poolQueued).set(to: Double(status.queued))
            if let limit = status.serverConnectionLimit {
                registry.makeGauge(descriptor: Self.serverConnectionLimit).set(to: Double(limit))
            }
            registry.makeGauge(descriptor: Self.poolUtilization).set(to: status.utilizationPercent)
            registry.makeGauge(descriptor: Self.sinceObservation).set(to: status.secondsSinceObservation)
            registry.makeGauge(descriptor: Self.stalled).set(to: status.stalled ? 1 : 0)
            registry.makeGauge(descriptor: Self.leader).set(to: status.leadership?.leading == true ? 1 : 0)
            registry.makeGauge(descriptor: Self.leaderToken).set(to: Double(status.leadership?.leader?.token ?? 0))
            for proxy in status.proxies ?? [] {
                registry.makeGauge(descriptor: Self.proxyReachable, labels: [("proxy", proxy.name)]).set(to: proxy.reachable ? 1 : 0)
                registry.makeGauge(descriptor: Self.proxyServers, labels: [("proxy", proxy.name)]).set(to: Double(proxy.servers))
            }

            var seen = Set<InstanceID>()
            for instance in status.instances {
                seen.insert(instance.id)
                let gauges = state.perInstance[instance.id] ?? InstanceGauges(
                    sessions: registry.makeGauge(descriptor: Self.instanceSessions, labels: [("instance", instance.id)]),
                    connections: registry.makeGauge(descriptor: Self.instanceProxyConnections, labels: [("instance", instance.id)]),
                    deprecatedConnections: registry.makeGauge(descriptor: Self.deprecatedInstanceBalancerConnections,
                                                              labels: [("instance", instance.id)]),
                    disagreement: registry.makeGauge(descriptor: Self.instanceDisagreement, labels: [("instance", instance.id)])
                )
                state.perInstance[instance.id] = gauges
                gauges.sessions.set(to: Double(instance.sessions))
                gauges.connections.set(to: Double(instance.proxyConnections ?? 0))
                gauges.deprecatedConnections.set(to: Double(instance.proxyConnections ?? 0))
                gauges.disagreement.set(to: instance.proxyDisagrees ? 1 : 0)
            }
            for (id, gauges) in state.perInstance where !seen.contains(id) {
                registry.unregisterGauge(gauges.sessions)
                registry.unregisterGauge(gauges.connections)
                registry.unregisterGauge(gauges.deprecatedConnections)
                registry.unregisterGauge(gauges.disagreement)
                state.perInstance[id] = nil
            }

            for decision in status.decisions where decision.sequence > state.lastSequence {
                registry.makeCounter(descriptor: Self.decisions, labels: [("kind", decision.kind.rawValue)]).increment()
                if !decision.errors.isEmpty {
                    registry.makeCounter(descriptor: Self.decisionErrors).increment()
                }
            }
            state.lastSequence = max(state.lastSequence, status.decisions.map(\.sequence).max() ?? 0)
            return registry.emitToString()
        }
    }
    private static func metric(_ name: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: unit, helpText: help)
    }
    private static var sinceObservation: MetricNameDescriptor { metric("wsscale_balancer_seconds_since_observation",
        "Seconds since the control loop last read the pool whole (Redis, HAProxy, the backend)") }
    private static var stalled: MetricNameDescriptor { metric("wsscale_balancer_stalled", "1 while the control loop has not read the pool for BALANCER_STALL_SECONDS") }
    private static var poolInstances: MetricNameDescriptor { metric("wsscale_pool_instances", "Instances in the pool, by state (starting, active, draining)") }
    private static var poolSessions: MetricNameDescriptor { metric("wsscale_pool_sessions", "Sessions on all instances, draining ones included") }
    private static var poolQueued: MetricNameDescriptor { metric("wsscale_pool_queued", "Connections waiting in the proxy's queue for a server with room") }
    private static var serverConnectionLimit: MetricNameDescriptor { metric("wsscale_server_connection_limit",
        "The most connections the proxy holds to one server (its maxconn)") }
    private static var poolUtilization: MetricNameDescriptor { metric("wsscale_pool_utilization", unit: "percent",
        "Overall utilization: sessions / ((active + starting) x CONNECTION_LIMIT_PER_HOST) x 100") }
    private static var instanceSessions: MetricNameDescriptor { metric("wsscale_instance_sessions", "Sessions on the instance, as the registry counts them") }
    private static var instanceProxyConnections: MetricNameDescriptor { metric("wsscale_instance_proxy_connections",
        "Connections HAProxy counts to the instance") }
    private static var deprecatedInstanceBalancerConnections: MetricNameDescriptor { metric("wsscale_instance_balancer_connections",
        "Deprecated name of wsscale_instance_proxy_connections") }
    private static var instanceDisagreement: MetricNameDescriptor { metric("wsscale_instance_disagreement",
        "1 when HAProxy and the registry disagree on the instance's load") }
    private static var leader: MetricNameDescriptor { metric("wsscale_leader", "1 while this balancer leads the pool (acts on it), 0 on a standby") }
    private static var leaderToken: MetricNameDescriptor { metric("wsscale_leader_token",
        "The fencing token of the pool's leader as last seen (0 when nobody leads)") }
    private static var proxyReachable: MetricNameDescriptor { metric("wsscale_proxy_reachable", "1 when this HAProxy instance answered the last reading") }
    private static var proxyServers: MetricNameDescriptor { metric("wsscale_proxy_servers", "The pool's servers this HAProxy instance holds") }
    private static var decisions: MetricNameDescriptor { metric("wsscale_decisions", unit: "total", "Decisions carried out, by kind") }
    private static var stackRestarts: MetricNameDescriptor { metric("wsscale_stack_restarts", unit: "total",
        "Restarts of redis-server and HAProxy by wsscale up, by process") }
    private static var decisionErrors: MetricNameDescriptor { metric("wsscale_decision_errors", unit: "total", "Decisions with at least one failed action") }
}
