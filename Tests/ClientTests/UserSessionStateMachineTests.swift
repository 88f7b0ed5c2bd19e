import Testing
import WSScaleTestSupport
@testable import WSScaleClient

@Suite("User session state machine (no I/O)")
struct UserSessionStateMachineTests {
    typealias Machine = UserSessionStateMachine
    static let backoff = BackoffPolicy(base: .milliseconds(100), cap: .seconds(5))

    /// A user that is connected to `host`, and the epoch of its connection.
    func connectedUser(host: String? = "h1", backoff: BackoffPolicy = backoff) -> (Machine, UInt64) {
        var machine = Machine(backoff: backoff)
        guard case .openConnection(let epoch) = machine.connect() else {
            Issue.record("connect did not open a connection")
            return (machine, 0)
        }
        #expect(machine.connectionOpened(epoch: epoch, host: host) == .none)
        return (machine, epoch)
    }

    @Test("connect opens a connection once; connecting again is a no-op")
    func connectIsIdempotent() {
        var machine = Machine(backoff: Self.backoff)
        #expect(machine.state == .disconnected)
        let action = machine.connect()
        guard case .openConnection(let epoch) = action else { Issue.record("got \(action)"); return }
        #expect(machine.state == .connecting)
        #expect(machine.connect() == .none)
        #expect(machine.connectionOpened(epoch: epoch, host: "h1") == .none)
        #expect(machine.state == .connected(host: "h1"))
        #expect(machine.lastHost == "h1")
        #expect(machine.connect() == .none)
        #expect(machine.state == .connected(host: "h1"))
    }

    @Test("a server close of a live session reconnects within base, for each close code",
          arguments: [WebSocketCloseCode.rebalancing, WebSocketCloseCode.goingAway, WebSocketCloseCode.normal, 4000, 1011])
    func serverCloseReconnectsPromptly(code: UInt16) {
        var (machine, epoch) = connectedUser()
        var highest = ConstantRandom(word: .max)
        let action = machine.connectionEnded(epoch: epoch, .closedByServer(code: code, reason: "bye"), using: &highest)
        guard case .scheduleRetry(let retryEpoch, let delay) = action else { Issue.record("got \(action)"); return }
        #expect(delay == .milliseconds(100))  // the highest possible first delay is base
        #expect(machine.state == .reconnecting(attempt: 1, delay: delay))
        #expect(machine.lastEnd?.closeCode == code)
        #expect(machine.retryDue(epoch: retryEpoch) == .openConnection(epoch: retryEpoch))
        #expect(machine.state == .connecting)
        #expect(machine.reconnectCount == 1)
    }

    @Test("4002 (replaced by a newer session of the same user): disconnected, no retry")
    func replacedDoesNotComeBack() {
        var (machine, epoch) = connectedUser()
        var random = ConstantRandom(word: 0)
        let action = machine.connectionEnded(epoch: epoch, .closedByServer(code: WebSocketCloseCode.replaced,
                                                                          reason: "replaced by a newer session"), using: &random)
        #expect(action == .none)
        #expect(machine.state == .disconnected)
        #expect(machine.lastEnd?.closeCode == 4002)
        #expect(machine.reconnectCount == 0)
    }

    @Test("4001 and 1001: the first retry is almost immediate (0...base)")
    func shedRetryIsPrompt() {
        var random = SeededRandom(seed: 7)
        for code in [WebSocketCloseCode.rebalancing, WebSocketCloseCode.goingAway] {
            for _ in 0..<200 {
                var (machine, epoch) = connectedUser()
                let action = machine.connectionEnded(epoch: epoch, .closedByServer(code: code, reason: ""), using: &random)
                guard case .scheduleRetry(_, let delay) = action else { Issue.record("got \(action)"); return }
                #expect(delay >= .zero && delay <= .milliseconds(100))
            }
        }
    }

    @Test("1013 continues the series: the ceiling doubles on each refusal up to the cap")
    func tryAgainLaterBacksOff() {
        var (machine, epoch) = connectedUser()
        var highest = ConstantRandom(word: .max)
        var delays: [Duration] = []
        for _ in 0..<8 {
            let action = machine.connectionEnded(epoch: epoch, .closedByServer(code: 1013, reason: "try again later"),
                                                 using: &highest)
            guard case .scheduleRetry(let retryEpoch, let delay) = action else { Issue.record("got \(action)"); return }
            delays.append(delay)
            guard case .openConnection(let next) = machine.retryDue(epoch: retryEpoch) else { Issue.record("no retry"); return }
            // The server accepts the upgrade and then refuses with 1013.
            #expect(machine.connectionOpened(epoch: next, host: "h1") == .none)
            epoch = next
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                           .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5)])
        #expect(machine.reconnectCount == 8)
    }

    @Test("failed connects back off; a healthy session afterwards starts a new series")
    func connectFailuresThenHealthySession() {
        var machine = Machine(backoff: Self.backoff)
        var highest = ConstantRandom(word: .max)
        guard case .openConnection(var epoch) = machine.connect() else { Issue.record("no connect"); return }
        for expectedAttempt in 1...3 {
            let action = machine.connectionEnded(epoch: epoch, .connectFailed("refused"), using: &highest)
            guard case .scheduleRetry(let retryEpoch, _) = action else { Issue.record("got \(action)"); return }
            guard case .reconnecting(let attempt, _) = machine.state else { Issue.record("not reconnecting"); return }
            #expect(attempt == expectedAttempt)
            #expect(machine.lastEnd?.closeCode == nil)
            guard case .openConnection(let next) = machine.retryDue(epoch: retryEpoch) else { Issue.record("no retry"); return }
            epoch = next
        }
        #expect(machine.connectionOpened(epoch: epoch, host: "h2") == .none)
        let action = machine.connectionEnded(epoch: epoch, .abnormal, using: &highest)
        #expect(machine.state == .reconnecting(attempt: 1, delay: .milliseconds(100)))
        #expect(machine.lastEnd?.closeCode == 1006)
        guard case .scheduleRetry = action else { Issue.record("got \(action)"); return }
    }

    @Test("an intentional disconnect closes the connection and never reconnects")
    func intentionalDisconnectWhileConnected() {
        var (machine, epoch) = connectedUser()
        var random = SeededRandom(seed: 1)
        #expect(machine.disconnect() == .closeConnection(epoch: epoch))
        #expect(machine.state == .disconnected)
        // The close completes (or the server closes first): nothing happens.
        #expect(machine.connectionEnded(epoch: epoch, .closedByClient, using: &random) == .none)
        #expect(machine.connectionEnded(epoch: epoch, .closedByServer(code: 4001, reason: ""), using: &random) == .none)
        #expect(machine.connectionEnded(epoch: epoch, .abnormal, using: &random) == .none)
        #expect(machine.state == .disconnected)
        #expect(machine.reconnectCount == 0)
        #expect(machine.disconnect() == .none)
    }

    @Test("disconnect while reconnecting cancels the retry")
    func intentionalDisconnectWhileReconnecting() {
        var (machine, epoch) = connectedUser()
        var random = SeededRandom(seed: 2)
        let action = machine.connectionEnded(epoch: epoch, .closedByServer(code: 4001, reason: ""), using: &random)
        guard case .scheduleRetry(let retryEpoch, _) = action else { Issue.record("got \(action)"); return }
        #expect(machine.disconnect() == .none)
        #expect(machine.retryDue(epoch: retryEpoch) == .none)
        #expect(machine.state == .disconnected)
        #expect(machine.reconnectCount == 0)
    }

    @Test("disconnect while connecting: the connection that opens later is closed at once")
    func intentionalDisconnectWhileConnecting() {
        var machine = Machine(backoff: Self.backoff)
        var random = SeededRandom(seed: 3)
        guard case .openConnection(let epoch) = machine.connect() else { Issue.record("no connect"); return }
        #expect(machine.disconnect() == .none)
        #expect(!machine.isAwaitingConnection(epoch: epoch))
        #expect(machine.connectionOpened(epoch: epoch, host: "h1") == .closeConnection(epoch: epoch))
        #expect(machine.state == .disconnected)
        #expect(machine.connectionEnded(epoch: epoch, .closedByClient, using: &random) == .none)
        // A new connect after that is a fresh attempt with a new epoch; the old one stays stale.
        guard case .openConnection(let fresh) = machine.connect() else { Issue.record("no reconnect"); return }
        #expect(fresh != epoch)
        #expect(machine.connectionOpened(epoch: epoch, host: "h1") == .closeConnection(epoch: epoch))
        #expect(machine.connectionOpened(epoch: fresh, host: "h3") == .none)
        #expect(machine.state == .connected(host: "h3"))
    }

    @Test("with maxAttempts the user gives up after that many failed retries")
    func boundedAttemptsGiveUp() {
        let bounded = BackoffPolicy(base: .milliseconds(10), cap: .milliseconds(50), maxAttempts: 2)
        var machine = Machine(backoff: bounded)
        var random = SeededRandom(seed: 4)
        guard case .openConnection(var epoch) = machine.connect() else { Issue.record("no connect"); return }
        for _ in 0..<2 {
            guard case .scheduleRetry(let retryEpoch, _) = machine.connectionEnded(epoch: epoch, .connectFailed("x"), using: &random),
                  case .openConnection(let next) = machine.retryDue(epoch: retryEpoch) else {
                Issue.record("expected a retry"); return
            }
            epoch = next
        }
        #expect(machine.connectionEnded(epoch: epoch, .connectFailed("x"), using: &random) == .none)
        #expect(machine.state == .disconnected)
        #expect(machine.gaveUp)
        #expect(machine.reconnectCount == 2)
        // Asking again starts over.
        guard case .openConnection = machine.connect() else { Issue.record("no connect"); return }
        #expect(!machine.gaveUp)
    }

    @Test("an upgrade refused with 4xx is permanent; with 5xx, 408, 429, a 3xx or a status never read it is retried",
          arguments: [(400, false), (404, false), (403, false), (408, true), (429, true), (500, true), (503, true),
                      (302, true), (0, true)])
    func refusedUpgrade(status: Int, retried: Bool) {
        var machine = Machine(backoff: Self.backoff)
        var random = SeededRandom(seed: 5)
        guard case .openConnection(let epoch) = machine.connect() else { Issue.record("no connect"); return }
        let action = machine.connectionEnded(epoch: epoch, .upgradeRefused(status: status), using: &random)
        if retried {
            guard case .scheduleRetry = action else { Issue.record("got \(action)"); return }
        } else {
            #expect(action == .none)
            #expect(machine.state == .disconnected)
            #expect(machine.gaveUp)
        }
    }

    @Test("stale events are ignored: an old retry timer, an old connection's end")
    func staleEventsIgnored() {
        var (machine, epoch) = connectedUser()
        var random = SeededRandom(seed: 6)
        #expect(machine.retryDue(epoch: epoch) == .none)
        #expect(machine.connectionEnded(epoch: epoch &+ 99, .abnormal, using: &random) == .none)
        #expect(machine.state == .connected(host: "h1"))
    }
}
