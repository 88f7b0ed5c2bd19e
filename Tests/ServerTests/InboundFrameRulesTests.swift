import NIOCore
import NIOWebSocket
import Testing
@testable import WSScaleServer

/// Classic invalid UTF-8 sequences, by kind (the ones Autobahn's section 6 and Markus Kuhn's
/// decoder test file use).
enum InvalidUTF8 {
    static let cases: [(name: String, bytes: [UInt8])] = [
        ("overlong '/' in 2 bytes (C0 AF)", [0xC0, 0xAF]),
        ("overlong '/' in 3 bytes (E0 80 AF)", [0xE0, 0x80, 0xAF]),
        ("overlong '/' in 4 bytes (F0 80 80 AF)", [0xF0, 0x80, 0x80, 0xAF]),
        ("largest overlong 2-byte (C1 BF)", [0xC1, 0xBF]),
        ("largest overlong 3-byte (E0 9F BF)", [0xE0, 0x9F, 0xBF]),
        ("largest overlong 4-byte (F0 8F BF BF)", [0xF0, 0x8F, 0xBF, 0xBF]),
        ("surrogate U+D800 (ED A0 80)", [0xED, 0xA0, 0x80]),
        ("surrogate U+DFFF (ED BF BF)", [0xED, 0xBF, 0xBF]),
        ("surrogate pair D800 DC00", [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80]),
        ("U+110000 (F4 90 80 80)", [0xF4, 0x90, 0x80, 0x80]),
        ("U+1FFFFF (F7 BF BF BF)", [0xF7, 0xBF, 0xBF, 0xBF]),
        ("lone continuation byte 80", [0x61, 0x80]),
        ("lone continuation byte BF", [0xBF]),
        ("byte C0", [0xC0]),
        ("byte C1", [0xC1]),
        ("byte F5", [0xF5, 0x80, 0x80, 0x80]),
        ("byte F8", [0xF8, 0x88, 0x80, 0x80, 0x80]),
        ("byte FE", [0xFE]),
        ("byte FF", [0xFF]),
        ("2-byte sequence cut short by ASCII (C2 41)", [0xC2, 0x41]),
        ("3-byte sequence cut short by ASCII (E2 82 41)", [0xE2, 0x82, 0x41]),
        ("4-byte sequence cut short (F0 9F 98 41)", [0xF0, 0x9F, 0x98, 0x41]),
        ("valid text, then Hoehrmann's example (κόσμε + ED A0 80 + edited)",
         [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
          0x65, 0x64, 0x69, 0x74, 0x65, 0x64]),
    ]

    /// Sequences that are only invalid because the text ends inside them.
    static let truncated: [(name: String, bytes: [UInt8])] = [
        ("truncated 2-byte sequence (C2)", [0x61, 0xC2]),
        ("truncated 3-byte sequence (E2 82)", [0x61, 0xE2, 0x82]),
        ("truncated 4-byte sequence (F0 9F 98)", [0x61, 0xF0, 0x9F, 0x98]),
    ]
}

@Suite("UTF-8 validator")
struct UTF8ValidatorTests {
    @Test("agrees with the standard library on every code point's encoding")
    func everyScalar() {
        var validator = UTF8Validator()
        var count = 0
        var rejected: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if !(validator.consume(UTF8.encode(scalar)!) && validator.isComplete) { rejected.append(value) }
            count += 1
        }
        #expect(rejected.isEmpty)
        #expect(count == 0x110000 - 0x800)
    }

    @Test("rejects every surrogate and every value above U+10FFFF written the UTF-8 way")
    func surrogatesAndBeyond() {
        func encode(_ value: UInt32) -> [UInt8] {
            if value < 0x10000 {
                return [0xE0 | UInt8(value >> 12), 0x80 | UInt8(value >> 6 & 0x3F), 0x80 | UInt8(value & 0x3F)]
            }
            return [0xF0 | UInt8(value >> 18 & 0x07), 0x80 | UInt8(value >> 12 & 0x3F),
                    0x80 | UInt8(value >> 6 & 0x3F), 0x80 | UInt8(value & 0x3F)]
        }
        for value in UInt32(0xD800)...0xDFFF { #expect(!UTF8Validator.isValid(encode(value))) }
        for value in stride(from: UInt32(0x110000), through: 0x1FFFFF, by: 0x1111) {
            #expect(!UTF8Validator.isValid(encode(value)))
        }
    }

    @Test("rejects the classic invalid sequences", arguments: InvalidUTF8.cases.map(\.bytes))
    func invalid(bytes: [UInt8]) {
        var validator = UTF8Validator()
        let accepted = validator.consume(bytes)
        #expect(!accepted)
    }

    @Test("accepts the start of a sequence, and says it is not complete", arguments: InvalidUTF8.truncated.map(\.bytes))
    func truncated(bytes: [UInt8]) {
        var validator = UTF8Validator()
        let accepted = validator.consume(bytes)
        #expect(accepted)
        #expect(!validator.isComplete)
    }

    @Test("a text split anywhere gives the same answer as the whole")
    func splitAnywhere() {
        let texts: [[UInt8]] = [Array("a😀b€c€ß".utf8)] + InvalidUTF8.cases.map { [0x61] + $0.bytes + [0x62] }
        for bytes in texts {
            let whole = UTF8Validator.isValid(bytes)
            for split in 0...bytes.count {
                var validator = UTF8Validator()
                let ok = validator.consume(bytes[..<split]) && validator.consume(bytes[split...]) && validator.isComplete
                #expect(ok == whole, "\(bytes) split at \(split)")
            }
        }
    }

    @Test("the ASCII fast path over raw bytes stops at the first invalid byte")
    func rawBytes() {
        let ascii = Array(repeating: UInt8(0x61), count: 37)
        for position in [0, 7, 8, 9, 16, 36] {
            var bytes = ascii
            bytes[position] = 0xFF
            var validator = UTF8Validator()
            let accepted = bytes.withUnsafeBytes { validator.consume(contentsOf: $0) }
            #expect(!accepted, "0xFF at \(position)")
        }
        let text = Array((String(repeating: "abcdefgh", count: 5) + "é😀" + String(repeating: "x", count: 9)).utf8)
        for split in 0...text.count {
            var validator = UTF8Validator()
            let ok = text[..<split].withUnsafeBytes { validator.consume(contentsOf: $0) }
                && text[split...].withUnsafeBytes { validator.consume(contentsOf: $0) }
            #expect(ok && validator.isComplete, "split at \(split)")
        }
    }
}

@Suite("Inbound frame rules (RFC 6455), without I/O")
struct InboundFrameStateMachineTests {
    typealias Action = InboundFrameStateMachine.Action

    private func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true,
                       rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false) -> WebSocketFrame {
        let key: WebSocketMaskingKey = [0x01, 0x02, 0x03, 0x04]
        var data = ByteBuffer(bytes: bytes)
        if masked { data.webSocketMask(key) }
        return WebSocketFrame(fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, opcode: opcode,
                              maskKey: masked ? key : nil, data: data)
    }

    private func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> WebSocketFrame {
        frame(opcode, Array(text.utf8), fin: fin)
    }

    private func echo(_ opcode: WebSocketOpcode, _ text: String) -> Action {
        .echo(opcode: opcode, data: ByteBuffer(string: text))
    }

    @Test("single frames are echoed; fragments are echoed whole at the last one, pings answered in between")
    func echoes() {
        var machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.text, "hello")) == echo(.text, "hello"))
        #expect(machine.receive(frame(.binary, [0xFF, 0x00])) == .echo(opcode: .binary, data: ByteBuffer(bytes: [0xFF, 0x00])))
        #expect(machine.receive(frame(.text, "Hel", fin: false)) == .none)
        #expect(machine.hasMessageInFlight && machine.bytesInFlight == 3)
        #expect(machine.receive(frame(.ping, "p")) == .pong(ByteBuffer(string: "p")))
        #expect(machine.receive(frame(.continuation, "lo ", fin: false)) == .none)
        #expect(machine.receive(frame(.pong, "q")) == .none)
        #expect(machine.receive(frame(.continuation, "world")) == echo(.text, "Hello world"))
        #expect(!machine.hasMessageInFlight)
    }

    @Test("a message is limited as a whole: exactly the limit passes, one byte more is 1009")
    func messageLimit() {
        var machine = InboundFrameStateMachine(maxMessageBytes: 10)
        #expect(machine.receive(frame(.binary, Array(repeating: 1, count: 10))) != .none)
        #expect(machine.receive(frame(.binary, Array(repeating: 1, count: 4), fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, Array(repeating: 1, count: 6))) ==
                .echo(opcode: .binary, data: ByteBuffer(bytes: Array(repeating: 1, count: 10))))
        #expect(machine.receive(frame(.binary, Array(repeating: 1, count: 11))) == .fail(code: 1009, reason: "message too big"))
        #expect(machine.receive(frame(.text, "12345", fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, "123456")) == .fail(code: 1009, reason: "message too big"))
        #expect(!machine.hasMessageInFlight, "the bytes of a failed message are let go")
    }

    @Test("UTF-8 is checked across fragments, at the first frame that shows a problem")
    func utf8AcrossFragments() {
        var machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.text, [0x61, 0xF0, 0x9F], fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, [0x98], fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, [0x80])) == echo(.text, "a😀"))
        #expect(machine.receive(frame(.text, [0x61, 0xF0, 0x9F], fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, [0x41], fin: false)) == .fail(code: 1007, reason: "invalid UTF-8"))

        machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.text, [0xFF], fin: false)) == .fail(code: 1007, reason: "invalid UTF-8"))
        machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.text, [0x61, 0xE2, 0x82])) == .fail(code: 1007, reason: "invalid UTF-8"))
        machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.text, [0x61, 0xE2], fin: false)) == .none)
        #expect(machine.receive(frame(.continuation, [0x82])) == .fail(code: 1007, reason: "invalid UTF-8"),
                "a message may not end inside a sequence")
        machine = InboundFrameStateMachine(maxMessageBytes: 100)
        #expect(machine.receive(frame(.binary, [0xFF])) == .echo(opcode: .binary, data: ByteBuffer(bytes: [0xFF])),
                "binary messages are not text")
    }

    @Test("framing errors are 1002")
    func framing() {
        func failure(_ frames: [WebSocketFrame]) -> Action {
            var machine = InboundFrameStateMachine(maxMessageBytes: 1000)
            var last = Action.none
            for frame in frames { last = machine.receive(frame) }
            return last
        }
        func code(_ action: Action) -> UInt16? {
            if case .fail(let code, _) = action { return code }
            return nil
        }
        #expect(code(failure([frame(.text, Array("x".utf8), rsv1: true)])) == 1002)
        #expect(code(failure([frame(.binary, [1], rsv2: true)])) == 1002)
        #expect(code(failure([frame(.ping, [], rsv3: true)])) == 1002)
        #expect(code(failure([frame(.text, Array("x".utf8), masked: false)])) == 1002)
        #expect(code(failure([frame(WebSocketOpcode(encodedWebSocketOpcode: 3)!, [])])) == 1002)
        #expect(code(failure([frame(WebSocketOpcode(encodedWebSocketOpcode: 0xB)!, [])])) == 1002)
        #expect(code(failure([frame(.ping, [], fin: false)])) == 1002)
        #expect(code(failure([frame(.ping, Array(repeating: 0x61, count: 126))])) == 1002)
        #expect(failure([frame(.ping, Array(repeating: 0x61, count: 125))]) ==
                .pong(ByteBuffer(bytes: Array(repeating: 0x61, count: 125))))
        #expect(code(failure([frame(.continuation, "x")])) == 1002)
        #expect(code(failure([frame(.text, "a", fin: false), frame(.text, "b")])) == 1002)
        #expect(code(failure([frame(.binary, [1], fin: false), frame(.text, "b")])) == 1002)
    }

    @Test("close frames: the code is echoed when allowed on the wire; otherwise 1002")
    func closeFrames() {
        func answer(_ payload: [UInt8]) -> Action {
            var machine = InboundFrameStateMachine(maxMessageBytes: 1000)
            return machine.receive(frame(.connectionClose, payload))
        }
        func close(_ code: UInt16, _ reason: [UInt8] = []) -> Action {
            answer([UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
        }
        #expect(answer([]) == .answerClose(code: nil))
        #expect(answer([0x03]) == .fail(code: 1002, reason: "close payload of one byte"))
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(close(code) == .answerClose(code: code), "\(code)")
            #expect(InboundFrameStateMachine.isAllowedCloseCode(code))
        }
        for code: UInt16 in [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(close(code) == .fail(code: 1002, reason: "close code \(code) not allowed"), "\(code)")
        }
        #expect(close(1000, Array("bye µ".utf8)) == .answerClose(code: 1000))
        #expect(close(1000, [0xCE, 0xBA, 0xED, 0xA0, 0x80]) == .fail(code: 1002, reason: "close reason not UTF-8"))
        #expect(close(1000, [0xE2, 0x82]) == .fail(code: 1002, reason: "close reason not UTF-8"))
    }
}
