import NIOCore

/// One client connection's dealings with the app during its upgrade: the app's side of the
/// session until the session handler takes it, or the app's refusal until the REST handler
/// passes it on. Lives as long as the connection's upgrader; used on its event loop only.
final class AppHandshake: @unchecked Sendable {
    private var relay: AppRelayHandler?
    private var refusal: AppRefusal?

    init() {}

    /// Keeps what the app answered. An app connection whose client already left is closed; one
    /// that no session takes later closes itself (`AppRelayHandler.attachTimeout`).
    func keep(_ outcome: AppDialOutcome, until channel: any Channel) {
        switch outcome {
        case .connected(let relay, _):
            guard channel.isActive else {
                relay.close(code: 1001, reason: "client gone")
                return
            }
            self.relay = relay
        case .refused(let refusal):
            self.refusal = refusal
        }
    }

    /// The app's side of the session, once.
    func takeRelay() -> AppRelayHandler? {
        defer { relay = nil }
        return relay
    }

    /// The app's refusal, once.
    func takeRefusal() -> AppRefusal? {
        defer { refusal = nil }
        return refusal
    }
}
