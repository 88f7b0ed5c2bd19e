import WSScaleAPI

extension UserStatus {
    /// The status of a user from its state machine.
    init(userId: String, machine: UserSessionStateMachine) {
        var host: String?
        var state: UserState
        var retryAttempt: Int?
        var retryDelayMs: Int?
        switch machine.state {
        case .connecting: state = .connecting
        case .connected(let connectedHost): state = .connected; host = connectedHost
        case .reconnecting(let attempt, let delay):
            state = .reconnecting
            retryAttempt = attempt
            retryDelayMs = Int(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        case .disconnected: state = .disconnected
        }
        self.init(userId: userId, state: state, host: host, reconnectCount: machine.reconnectCount,
                  lastCloseCode: machine.lastEnd?.closeCode.map(Int.init), lastCloseReason: machine.lastEnd?.detail,
                  retryAttempt: retryAttempt, retryDelayMs: retryDelayMs, gaveUp: machine.gaveUp)
    }
}
