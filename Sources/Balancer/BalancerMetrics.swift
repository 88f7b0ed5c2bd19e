import Foundation
import NIOConcurrencyHelpers
import Prometheus
import WSScaleCore

/// The balancer's Prometheus metrics, refreshed from the pool status at each scrape.
///
/// Gauges: `wsscale_pool_instances{state}`, `wsscale_pool_sessions`,
/// `wsscale_pool_utilization_percent`, `wsscale_instance_sessions{instance}`,
/// `wsscale_instance_balancer_connections{instance}`, `wsscale_instance_disagreement{instance}`.
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
        registry.makeCounter(name: "wsscale_stack_restarts_total", labels: [("process", process)])
    }

    /// Brings every metric up to date with `status` and renders the Prometheus text format.
    public func render(_ status: PoolStatus) -> String {
        state.withLockedValue { state in
            for instanceState in InstanceState.allCases {
                registry.makeGauge(name: "wsscale_pool_instances", labels: [("state", instanceState.rawValue)])
                    .set(to: Double(status.instances.filter { $0.state == instanceState }.count))
            }
            registry.makeGauge(name: "wsscale_pool_sessions").set(to: Double(status.totalSessions))
            registry.makeGauge(name: "wsscale_pool_utilization_percent").set(to: status.utilizationPercent)

            var seen = Set<InstanceID>()
            for instance in status.instances {
                seen.insert(instance.id)
                let gauges = state.perInstance[instance.id] ?? InstanceGauges(
                    sessions: registry.makeGauge(name: "wsscale_instance_sessions", labels: [("instance", instance.id)]),
                    connections: registry.makeGauge(name: "wsscale_instance_balancer_connections", labels: [("instance", instance.id)]),
                    disagreement: registry.makeGauge(name: "wsscale_instance_disagreement", labels: [("instance", instance.id)])
                )
                state.perInstance[instance.id] = gauges
                gauges.sessions.set(to: Double(instance.sessions))
                gauges.connections.set(to: Double(instance.balancerConnections ?? 0))
                gauges.disagreement.set(to: instance.balancerDisagrees ? 1 : 0)
            }
            for (id, gauges) in state.perInstance where !seen.contains(id) {
                registry.unregisterGauge(gauges.sessions)
                registry.unregisterGauge(gauges.connections)
                registry.unregisterGauge(gauges.disagreement)
                state.perInstance[id] = nil
            }

            for decision in status.decisions where decision.sequence > state.lastSequence {
                registry.makeCounter(name: "wsscale_decisions_total", labels: [("kind", decision.kind.rawValue)]).increment()
                if !decision.errors.isEmpty {
                    registry.makeCounter(name: "wsscale_decision_errors_total").increment()
                }
            }
            state.lastSequence = max(state.lastSequence, status.decisions.map(\.sequence).max() ?? 0)
            return registry.emitToString()
        }
    }
}
