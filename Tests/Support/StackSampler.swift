import Foundation

/// Samples a running stack in the background while a scenario drives it, and remembers what
/// a single final look would miss: the most sessions any server ever had, the fewest servers
/// ever in rotation, every server ever seen, and rule violations found by an observer.
public actor StackSampler {
    /// Looks at one sample (topology and, when asked for, client status) and returns the rules
    /// it breaks, as sentences.
    public typealias Observer = @Sendable (TopologySnapshot, ClientSnapshot?) -> [String]

    private let api: StackAPI
    private let interval: Duration
    private let readsClient: Bool
    private let observer: Observer?
    private var task: Task<Void, Never>?

    /// The most sessions each server had in any sample.
    public private(set) var maxSessions: [String: Int] = [:]
    /// The fewest active servers in any sample (`Int.max` before the first).
    public private(set) var minActive = Int.max
    /// Every server id seen, in order of first appearance.
    public private(set) var seenInOrder: [String] = []
    /// Every server id seen in state `draining`.
    public private(set) var seenDraining: Set<String> = []
    /// What the observer reported, each sentence once.
    public private(set) var violations: [String] = []
    /// How many samples were taken.
    public private(set) var samples = 0

    /// Creates a sampler; `start()` begins sampling.
    /// - Parameters:
    ///   - api: the stack.
    ///   - interval: time between samples.
    ///   - readsClient: whether each sample also reads `GET /route/status`.
    ///   - observer: checks each sample.
    public init(api: StackAPI, interval: Duration = .milliseconds(100), readsClient: Bool = false,
                observer: Observer? = nil) {
        self.api = api
        self.interval = interval
        self.readsClient = readsClient
        self.observer = observer
    }

    /// Starts sampling.
    public func start() {
        guard task == nil else { return }
        task = Task { [api, interval, readsClient] in
            while !Task.isCancelled {
                if let topology = try? await api.topology() {
                    let client = readsClient ? try? await api.clientStatus() : nil
                    self.record(topology, client)
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Stops sampling and waits for the sampling task to end.
    public func stop() async {
        task?.cancel()
        await task?.value
        task = nil
    }

    /// The highest session count any server had.
    public var highestSessions: Int { maxSessions.values.max() ?? 0 }

    private func record(_ topology: TopologySnapshot, _ client: ClientSnapshot?) {
        samples += 1
        for instance in topology.instances {
            maxSessions[instance.id] = max(maxSessions[instance.id] ?? 0, instance.sessions)
            if !seenInOrder.contains(instance.id) { seenInOrder.append(instance.id) }
            if instance.state == "draining" { seenDraining.insert(instance.id) }
        }
        minActive = min(minActive, topology.active.count)
        for sentence in observer?(topology, client) ?? [] where !violations.contains(sentence) {
            violations.append(sentence)
        }
    }
}
