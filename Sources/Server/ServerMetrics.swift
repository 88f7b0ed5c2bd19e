import Prometheus

/// Why a session ended, as the `reason` label of `wsscale_connections_closed_total`.
public enum SessionCloseReason: String, Sendable, CaseIterable {
    /// The client closed it (close frame).
    case client
    /// The client answered no ping within the idle timeout (1001, a half-open connection).
    case idle
    /// The client did not read what the server wrote back (1008 "not reading").
    case notReading = "not_reading"
    /// A shed command chose it (4001).
    case shed
    /// A drop request chose it (4001).
    case drop
    /// The same user opened a newer session on this server (4002).
    case replaced
    /// The server shut down (1001).
    case shutdown
    /// The connection broke or spoke badly (no close handshake).
    case error
    /// The app behind the front door closed it (its close code reached the client), or its
    /// connection ended (1014).
    case app
}

/// The server's Prometheus metrics.
///
/// `wsscale_connections` (gauge), `wsscale_connections_opened_total`,
/// `wsscale_connections_refused_total`, `wsscale_connections_shed_total`,
/// `wsscale_connections_closed_total{reason=…}`, `wsscale_reads_held_back_total`.
public struct ServerMetrics: Sendable {
    /// The registry that renders them for `GET /metrics`.
    public let registry: PrometheusCollectorRegistry
    let connections: Gauge
    let opened: Counter
    let refused: Counter
    let shed: Counter
    /// Reads held back because the client did not take what the server wrote.
    let readsHeldBack: Counter
    private let closed: [SessionCloseReason: Counter]

    /// Creates the metrics in `registry`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        connections = registry.makeGauge(descriptor: MetricNameDescriptor(
            metricName: "wsscale_connections", unitName: "", helpText: "Live WebSocket sessions on this server"))
        opened = registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "wsscale_connections_opened", unitName: "total", helpText: "WebSocket sessions opened"))
        refused = registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "wsscale_connections_refused", unitName: "total",
            helpText: "WebSocket connections closed at once with 1013 (over MAX_CONNECTIONS_PER_HOST)"))
        shed = registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "wsscale_connections_shed", unitName: "total",
            helpText: "WebSocket sessions closed with 4001 by shed commands"))
        readsHeldBack = registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "wsscale_reads_held_back", unitName: "total",
            helpText: "Times a connection's reading stopped because its client did not read what the server wrote (backpressure)"))
        var closed: [SessionCloseReason: Counter] = [:]
        for reason in SessionCloseReason.allCases {
            closed[reason] = registry.makeCounter(descriptor: Self.closedDescriptor, labels: [("reason", reason.rawValue)])
        }
        self.closed = closed
    }

    /// `wsscale_connections_closed_total`.
    private static var closedDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "wsscale", metricName: "connections_closed", unitName: "total",
                             helpText: "WebSocket sessions closed, by reason")
    }

    /// Counts a closed session.
    func recordClosed(_ reason: SessionCloseReason) {
        closed[reason]?.increment()
        connections.decrement()
    }

    /// The metrics in Prometheus' text format.
    public func render() -> String {
        registry.emitToString()
    }
}
