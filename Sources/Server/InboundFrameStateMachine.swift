import NIOCore
import NIOWebSocket

/// The rules of RFC 6455 for the frames a client sends, one connection's worth: it takes each
/// decoded frame and says what to do: echo a whole message, answer a ping, answer the client's
/// close, fail the connection with a close code, or nothing yet (a fragment kept).
///
/// | rule | RFC 6455 | code |
/// |---|---|---|
/// | RSV1–3 set (no extension is ever negotiated) | 5.2 | 1002 |
/// | an unmasked client frame | 5.1 | 1002 |
/// | a reserved opcode (3–7, B–F) | 5.2 | 1002 |
/// | a control frame that is fragmented or carries over 125 bytes | 5.5 | 1002 |
/// | a continuation with nothing to continue; a new text/binary frame inside a fragmented message | 5.4 | 1002 |
/// | a text message that is not UTF-8, failed at the first frame that shows it | 8.1 | 1007 |
/// | a message (all its fragments together) over `maxMessageBytes` | 7.4.1 | 1009 |
/// | a close payload of one byte, a close code not allowed on the wire, a reason not UTF-8 | 5.5.1, 7.4 | 1002 |
///
/// Pings are answered at once, also between the fragments of a message; pongs are ignored.
/// A message is echoed whole, as one frame, however it was fragmented.
///
/// Memory: nothing while no message is in flight (one optional reference); while a fragmented
/// message is in flight, its bytes so far and 3 bytes of UTF-8 state. Pure: no I/O; the
/// frames' buffers are only read and copied.
///
/// Relaying (the front door, `APP_UPSTREAM_URL`): the same rules hold, but each data frame and
/// each ping is handed on as it came (`.forward`), fragments included, and nothing of a
/// message is kept but its length so far and its UTF-8 state.
///
/// A copy of a machine with a message in flight shares that message: keep one per connection.
struct InboundFrameStateMachine {
    /// What the connection must do after a frame.
    enum Action: Equatable {
        /// Nothing to send (a fragment was kept, or a pong arrived).
        case none
        /// Send this whole message back as one frame (FIN set).
        case echo(opcode: WebSocketOpcode, data: ByteBuffer)
        /// Answer a ping with this payload.
        case pong(ByteBuffer)
        /// The client started the close handshake correctly: send a close frame with this code
        /// (none when the client sent none), then close the TCP connection.
        case answerClose(code: UInt16?)
        /// Fail the connection (RFC 6455 7.1.7): send a close frame with this code and reason,
        /// then close the TCP connection without waiting for the client.
        case fail(code: UInt16, reason: String)
        /// Relaying: hand this frame on as it came (its payload unmasked; FIN and opcode kept).
        case forward(WebSocketFrame)
    }

    /// The fragments of a message so far; exists only while a fragmented message is in flight.
    private final class PartialMessage {
        let opcode: WebSocketOpcode
        /// The bytes so far (echoing); empty when relaying, which keeps none.
        var data: ByteBuffer
        /// The message's length so far.
        var length: Int
        /// For text messages: where the UTF-8 validation stands at the end of `data`.
        var utf8: UTF8Validator?

        init(opcode: WebSocketOpcode, data: ByteBuffer, length: Int, utf8: UTF8Validator?) {
            self.opcode = opcode
            self.data = data
            self.length = length
            self.utf8 = utf8
        }
    }

    /// Largest message accepted, in bytes, all its fragments together.
    let maxMessageBytes: Int
    /// Whether frames are handed on as they come (`.forward`) instead of echoed whole.
    let relaying: Bool
    private var partial: PartialMessage?

    /// A machine between messages.
    /// - Parameters:
    ///   - maxMessageBytes: largest message accepted, all its fragments together.
    ///   - relaying: hand data frames and pings on (`.forward`) instead of echoing and answering.
    init(maxMessageBytes: Int, relaying: Bool = false) {
        self.maxMessageBytes = maxMessageBytes
        self.relaying = relaying
    }

    /// Whether a fragmented message is in flight.
    var hasMessageInFlight: Bool { partial != nil }

    /// Bytes held for the message in flight (none when relaying).
    var bytesInFlight: Int { partial?.data.readableBytes ?? 0 }

    /// Takes the client's next frame.
    mutating func receive(_ frame: WebSocketFrame) -> Action {
        if frame.rsv1 || frame.rsv2 || frame.rsv3 { return fail(.protocolError, "reserved bits set") }
        guard frame.maskKey != nil else { return fail(.protocolError, "unmasked client frame") }
        switch frame.opcode {
        case .ping, .pong, .connectionClose:
            guard frame.fin else { return fail(.protocolError, "fragmented control frame") }
            guard frame.length <= 125 else { return fail(.protocolError, "control frame over 125 bytes") }
            switch frame.opcode {
            case .ping: return relaying ? forward(frame) : .pong(frame.unmaskedData)
            case .pong: return relaying ? forward(frame) : .none
            default: return receivedClose(frame.unmaskedData)
            }
        case .text, .binary:
            guard partial == nil else { return fail(.protocolError, "new message inside a fragmented one") }
            guard frame.length <= maxMessageBytes else { return fail(.messageTooLarge, "message too big") }
            let data = frame.unmaskedData
            var utf8: UTF8Validator?
            if frame.opcode == .text {
                var validator = UTF8Validator()
                guard Self.consume(data, into: &validator), !frame.fin || validator.isComplete else {
                    return fail(.dataInconsistentWithMessage, "invalid UTF-8")
                }
                utf8 = validator
            }
            if relaying {
                if !frame.fin {
                    partial = PartialMessage(opcode: frame.opcode, data: ByteBuffer(), length: frame.length, utf8: utf8)
                }
                return .forward(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: data))
            }
            if frame.fin { return .echo(opcode: frame.opcode, data: data) }
            partial = PartialMessage(opcode: frame.opcode, data: data, length: frame.length, utf8: utf8)
            return .none
        case .continuation:
            guard let partial else { return fail(.protocolError, "continuation with nothing to continue") }
            guard frame.length <= maxMessageBytes - partial.length else {
                return fail(.messageTooLarge, "message too big")
            }
            var data = frame.unmaskedData
            if var validator = partial.utf8 {
                guard Self.consume(data, into: &validator), !frame.fin || validator.isComplete else {
                    return fail(.dataInconsistentWithMessage, "invalid UTF-8")
                }
                partial.utf8 = validator
            }
            partial.length += frame.length
            if frame.fin { self.partial = nil }
            if relaying { return .forward(WebSocketFrame(fin: frame.fin, opcode: .continuation, data: data)) }
            partial.data.writeBuffer(&data)
            guard frame.fin else { return .none }
            return .echo(opcode: partial.opcode, data: partial.data)
        default:
            return fail(.protocolError, "reserved opcode")
        }
    }

    /// Close codes a peer may send (RFC 6455 7.4.1, 7.4.2 and the IANA registry): 1000–1003,
    /// 1007–1014, and 3000–4999 (libraries, frameworks and applications). Never on the wire:
    /// 0–999, 1004 (reserved), 1005, 1006 and 1015 (only reported locally), 1016–2999 (unassigned).
    static func isAllowedCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    private mutating func receivedClose(_ payload: ByteBuffer) -> Action {
        var payload = payload
        guard payload.readableBytes > 0 else { return .answerClose(code: nil) }
        guard let code = payload.readInteger(as: UInt16.self) else {
            return fail(.protocolError, "close payload of one byte")
        }
        guard Self.isAllowedCloseCode(code) else { return fail(.protocolError, "close code \(code) not allowed") }
        var validator = UTF8Validator()
        guard Self.consume(payload, into: &validator), validator.isComplete else {
            return fail(.protocolError, "close reason not UTF-8")
        }
        partial = nil
        return .answerClose(code: code)
    }

    private func forward(_ frame: WebSocketFrame) -> Action {
        .forward(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData))
    }

    private mutating func fail(_ code: WebSocketErrorCode, _ reason: String) -> Action {
        partial = nil
        return .fail(code: UInt16(webSocketErrorCode: code), reason: reason)
    }

    private static func consume(_ buffer: ByteBuffer, into validator: inout UTF8Validator) -> Bool {
        buffer.withUnsafeReadableBytes { validator.consume(contentsOf: $0) }
    }
}
