import Foundation
import WSScaleTestSupport

/// The example chat app's own check, through a stack's traffic port: a message from a user on
/// one server reaches a user on another (through the app's Redis channel), and still does
/// after a rebalance closed one of them with 4001 and they reconnected.
struct ChatCheck {
    /// The stack's traffic port on 127.0.0.1 (HAProxy).
    var trafficPort: Int
    /// Closes a user's session with 4001 the way a rebalance does (a drop on its server).
    var moveUser: @Sendable (_ host: String) async throws -> Void

    /// What the check saw.
    struct Report: CustomStringConvertible {
        var senderHost: String?
        var receiverHostBefore: String?
        var receiverHostAfter: String?
        var description: String {
            "sender on \(senderHost ?? "?"), receiver on \(receiverHostBefore ?? "?") then \(receiverHostAfter ?? "?")"
        }
    }

    /// Runs the check with two fresh users.
    func run(sender: String = "chat-alice", receiver: String = "chat-bob") async throws -> Report {
        let port = trafficPort
        let alice = try await RawWebSocket.offThread { try RawWebSocket.connect(port: port, path: "/api/v1/websocket/\(sender)") }
        let bob = try await RawWebSocket.offThread { try RawWebSocket.connect(port: port, path: "/api/v1/websocket/\(receiver)") }
        var report = Report(senderHost: alice.serverHost, receiverHostBefore: bob.serverHost)
        guard alice.serverHost != nil, alice.serverHost != bob.serverHost else {
            throw StackAPIError("the two users share a server (\(report)): the check needs them apart")
        }
        try await Self.deliver(from: alice, sender: sender, to: bob, receiver: receiver, id: 1)
        try await Self.deliver(from: bob, sender: receiver, to: alice, receiver: sender, id: 2)

        // A rebalance moves the receiver: 4001, then it reconnects wherever HAProxy sends it.
        try await moveUser(bob.serverHost!)
        let code = try await RawWebSocket.offThread { try bob.closeCode() }
        guard code == 4001 else { throw StackAPIError("the moved user got close code \(code.map(String.init) ?? "none"), not 4001") }
        let moved = try await RawWebSocket.offThread { try RawWebSocket.connect(port: port, path: "/api/v1/websocket/\(receiver)") }
        report.receiverHostAfter = moved.serverHost
        try await TestSupport.waitUntil("the moved user is reachable again") {
            (try? await Self.deliver(from: alice, sender: sender, to: moved, receiver: receiver, id: 3)) != nil
        }
        try await Self.deliver(from: moved, sender: receiver, to: alice, receiver: sender, id: 4)
        return report
    }

    /// Sends `{"to": receiver, "id": id}` from one socket and reads the other until it arrives.
    static func deliver(from: RawWebSocket, sender: String, to: RawWebSocket, receiver: String, id: Int) async throws {
        try await RawWebSocket.offThread {
            try from.send(text: #"{"to": "\#(receiver)", "text": "hello \#(id)", "id": \#(id)}"#)
            while true {
                let frame = try to.readFrame()
                if frame.opcode == 0x8 { throw StackAPIError("\(receiver) was closed (\(frame.closeCode ?? 0)) before message \(id)") }
                guard frame.opcode == 0x1,
                      let message = try? JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any],
                      message["id"] as? Int == id else { continue }
                guard message["from"] as? String == sender else {
                    throw StackAPIError("message \(id) came from \(message["from"] ?? "nobody"), not \(sender)")
                }
                return
            }
        }
    }
}
