import Foundation
import WSScaleCore
import WSScaleTestSupport

/// One burst: N users asked to connect at once, watched until the pool is balanced.
struct BurstRun {
    /// What a burst measured, from the connect request.
    struct Report {
        var users: Int
        var allConnected: Duration?
        var balanced: Duration?
        var highest: Int
        var highestServer: String
        var forcedMoves: Int
        var minimumMoves: Int
        var lost: Int
        var servers: Int
        var landing: [Int]
        var knobs: Knobs

        /// Whether every user got in and the pool balanced within the time allowed.
        var complete: Bool { allConnected != nil && balanced != nil && lost == 0 }

        var table: String {
            func time(_ value: Duration?) -> String { value.map { String(format: "%.2f s", $0.secondsValue) } ?? "not within the time allowed" }
            return """

            | \(users) users at once | measured | target |
            |---|---|---|
            | all connected | \(time(allConnected)) | < 3 s |
            | balanced (every active server ≤ average + \(knobs.overTolerance) % of \(knobs.connectionLimit)) | \(time(balanced)) | < 5 s |
            | highest count on one server | \(highest) (\(highestServer)) | ≤ \(knobs.hardLimit) (hard limit) |
            | forced moves (4001) / fewest the landing needed | \(forcedMoves) / \(minimumMoves) | ≤ 1.5 × |
            | users lost | \(lost) | 0 |
            | active servers at the end | \(servers) | |

            landing (sessions per server when all were connected): \(landing)
            """
        }
    }

    let api: StackAPI
    let knobs: Knobs
    let users: Int
    let timeout: Duration

    func run() async throws -> Report {
        let ids = (1...users).map { "burst-\($0)" }
        let clock = ContinuousClock()
        let before = try await api.topology()
        guard before.totalSessions == 0 else { throw StackAPIError("the pool holds \(before.totalSessions) sessions before the burst") }
        let shedBefore = Self.shedCount(before)
        let start = clock.now
        try await api.connect(ids)
        let accepted = clock.now - start
        FileHandle.standardError.write(Data(String(format: "the client simulator took the batch in %.2f s\n", accepted.secondsValue).utf8))

        var highest = 0, highestServer = "-"
        var allConnected: Duration?, balanced: Duration?
        var landing: [Int] = []
        var minimumMoves = 0
        var connected = 0
        var lastTrace = start
        while clock.now - start < timeout {
            let topology = try await api.topology()
            if clock.now - lastTrace >= .milliseconds(250) {
                lastTrace = clock.now
                let counts = topology.instances.map { "\($0.state.prefix(1))\($0.sessions)" }.joined(separator: " ")
                FileHandle.standardError.write(Data(String(format: "%6.2f s: %d registered, %d queued; %@\n",
                    (clock.now - start).secondsValue, topology.totalSessions, topology.queued ?? 0, counts).utf8))
            }
            for instance in topology.instances {
                let count = max(instance.sessions, instance.proxyConnections ?? 0)
                if count > highest { (highest, highestServer) = (count, instance.id) }
            }
            // The client simulator's status lists every user (heavy at 6,000): it is asked
            // only once the registry counts them all.
            if allConnected == nil, topology.totalSessions >= users {
                connected = try await api.clientStatus().totals.connected
                if connected == users, topology.totalSessions == users {
                    allConnected = clock.now - start
                    landing = topology.active.map(\.sessions).sorted(by: >)
                    minimumMoves = Self.fewestMoves(landing)
                }
            }
            if allConnected != nil, topology.totalSessions == users, Self.isBalanced(topology, knobs: knobs) {
                balanced = clock.now - start
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let end = try await api.topology()
        let client = try await api.clientStatus()
        return Report(users: users, allConnected: allConnected, balanced: balanced, highest: highest, highestServer: highestServer,
                      forcedMoves: Self.shedCount(end) - shedBefore, minimumMoves: minimumMoves,
                      lost: users - client.totals.connected, servers: end.active.count, landing: landing, knobs: knobs)
    }

    /// Every active server at most the average plus the tolerance, nothing starting.
    static func isBalanced(_ topology: WSScaleTestSupport.TopologySnapshot, knobs: Knobs) -> Bool {
        let active = topology.active
        guard !active.isEmpty, !topology.instances.contains(where: { $0.state == "starting" }) else { return false }
        let total = active.map(\.sessions).reduce(0, +)
        // s_h / L > S / (A L) + t / 100  ⇔  100 A s_h > 100 S + t A L
        return active.allSatisfy { 100 * active.count * $0.sessions <= 100 * total + knobs.overTolerance * active.count * knobs.connectionLimit }
    }

    /// The fewest moves that even out a landing: what the servers above ⌈S / A⌉ hold over it.
    static func fewestMoves(_ counts: [Int]) -> Int {
        guard !counts.isEmpty else { return 0 }
        let total = counts.reduce(0, +)
        let level = (total + counts.count - 1) / counts.count
        return counts.map { max(0, $0 - level) }.reduce(0, +)
    }

    /// Sessions shed by the balancer's rebalances in its decision log ("shed N from …").
    static func shedCount(_ topology: WSScaleTestSupport.TopologySnapshot) -> Int {
        topology.decisions.flatMap(\.actions).compactMap { action -> Int? in
            let words = action.split(separator: " ")
            guard words.count >= 3, words[0] == "shed", words[2] == "from" else { return nil }
            return Int(words[1])
        }.reduce(0, +)
    }
}
