import WSScaleTestSupport
import Foundation
import Testing
@testable import WSScaleServer

/// One rule of RFC 6455 tried frame by frame against the real server over a raw TCP socket.
struct ProtocolCase: Sendable, CustomTestStringConvertible {
    /// What the server must do.
    enum Outcome: Sendable {
        /// Send exactly these frames, and keep the connection (the test then closes it with
        /// 1000 and expects the 1000 back and the TCP connection closed).
        case frames([RawWebSocketClient.ServerFrame])
        /// Send one close frame with this code (nil: a close frame without a code) and close
        /// the TCP connection itself, without any answer from the client.
        case closes(UInt16?)
    }

    var name: String
    var frames: [RawFrame]
    var outcome: Outcome
    /// Frames the server sends before its close frame, for `.closes`.
    var before: [RawWebSocketClient.ServerFrame] = []

    var testDescription: String { name }

    static func echo(_ name: String, _ frames: [RawFrame], text: [UInt8]) -> ProtocolCase {
        ProtocolCase(name: name, frames: frames, outcome: .frames([.init(fin: true, opcode: 0x1, payload: text)]))
    }

    static func echo(_ name: String, _ frames: [RawFrame], binary: [UInt8]) -> ProtocolCase {
        ProtocolCase(name: name, frames: frames, outcome: .frames([.init(fin: true, opcode: 0x2, payload: binary)]))
    }

    static func closes(_ name: String, _ frames: [RawFrame], _ code: UInt16?) -> ProtocolCase {
        ProtocolCase(name: name, frames: frames, outcome: .closes(code))
    }
}

/// The rows: one per rule of the issue "The WebSocket server speaks RFC 6455 exactly".
enum ProtocolCases {
    static let limit = ServerConfiguration.defaultMaxMessageBytes

    /// UTF-8 (section 8.1): valid text in any fragmentation is echoed; invalid text is 1007.
    static let utf8: [ProtocolCase] = {
        var rows: [ProtocolCase] = []
        let mixed = Array("Hello-µ@ßöäüàá-UTF-8!! κόσμε €".utf8)
        rows.append(.echo("valid UTF-8 text in one frame", [.text(mixed)], text: mixed))
        rows.append(.echo("an empty text message", [.text([UInt8]())], text: []))
        // "a😀b": the 4-byte sequence F0 9F 98 80 at bytes 1…4; split at every position.
        let emoji = Array("a😀b".utf8)
        for split in 1..<emoji.count {
            rows.append(.echo("valid UTF-8 split between two frames at byte \(split) of \(emoji.map { String($0, radix: 16) })",
                              [.text(Array(emoji[..<split]), fin: false), .continuation(Array(emoji[split...]))],
                              text: emoji))
        }
        rows.append(.echo("valid UTF-8, one byte per frame",
                          [.text([emoji[0]], fin: false)] + emoji.dropFirst().dropLast().map { .continuation([$0], fin: false) }
                              + [.continuation([emoji.last!])],
                          text: emoji))
        let euro = Array("€uro".utf8)
        rows.append(.echo("a 3-byte sequence split 1 + 2", [.text([euro[0]], fin: false), .continuation(Array(euro[1...]))],
                          text: euro))
        rows.append(.echo("empty fragments around the text",
                          [.text([UInt8](), fin: false), .continuation("x", fin: false), .continuation([UInt8]())],
                          text: Array("x".utf8)))
        rows.append(.echo("binary messages are not checked as text", [.binary([0xFF, 0xC0, 0xED, 0xA0, 0x80])],
                          binary: [0xFF, 0xC0, 0xED, 0xA0, 0x80]))
        for invalid in InvalidUTF8.cases {
            rows.append(.closes("invalid UTF-8 in one frame: \(invalid.name)", [.text([0x61] + invalid.bytes)], 1007))
        }
        for invalid in InvalidUTF8.truncated {
            rows.append(.closes("invalid UTF-8 in one frame: \(invalid.name) at the end", [.text(invalid.bytes)], 1007))
            rows.append(.closes("invalid UTF-8 across fragments: \(invalid.name) at the end of the message",
                                [.text(invalid.bytes, fin: false), .continuation([UInt8]())], 1007))
        }
        rows.append(.closes("invalid UTF-8 across fragments: F0 9F | 98 | 41",
                            [.text([0x61, 0xF0, 0x9F], fin: false), .continuation([0x98], fin: false),
                             .continuation([0x41])], 1007))
        rows.append(.closes("invalid UTF-8 across fragments: surrogate ED | A0 80",
                            [.text([0x61, 0xED], fin: false), .continuation([0xA0, 0x80])], 1007))
        // Fail fast: the message never ends, the server must not wait for it.
        rows.append(.closes("fails at the first frame with an invalid byte, without the rest of the message",
                            [.text("valid so far", fin: false), .continuation([0x61, 0xF4, 0x90], fin: false)], 1007))
        rows.append(.closes("fails at a first fragment that is invalid", [.text([0xFF], fin: false)], 1007))
        return rows
    }()

    /// Framing (5.2, 5.4, 5.5, 5.1).
    static let framing: [ProtocolCase] = [
        .closes("RSV1 set on a text frame", [RawFrame(reserved: 0x40, opcode: 0x1, payload: Array("x".utf8))], 1002),
        .closes("RSV2 set on a binary frame", [RawFrame(reserved: 0x20, opcode: 0x2, payload: [1])], 1002),
        .closes("RSV3 set on a ping", [RawFrame(reserved: 0x10, opcode: 0x9, payload: [])], 1002),
        .closes("RSV1 set on a continuation",
                [.text("a", fin: false), RawFrame(reserved: 0x40, opcode: 0x0, payload: Array("b".utf8))], 1002),
        .closes("an unmasked text frame", [RawFrame(opcode: 0x1, payload: Array("x".utf8), masked: false)], 1002),
        .closes("an unmasked ping", [RawFrame(opcode: 0x9, payload: [], masked: false)], 1002),
        .closes("reserved data opcode 3", [RawFrame(opcode: 0x3, payload: [])], 1002),
        .closes("reserved control opcode B", [RawFrame(opcode: 0xB, payload: [])], 1002),
        .closes("a ping of 126 bytes", [RawFrame(opcode: 0x9, payload: Array(repeating: 0x61, count: 126))], 1002),
        .closes("a fragmented ping", [RawFrame(fin: false, opcode: 0x9, payload: [])], 1002),
        .closes("a fragmented close", [RawFrame(fin: false, opcode: 0x8, payload: [0x03, 0xE8])], 1002),
        .closes("a continuation with nothing to continue", [.continuation("x")], 1002),
        .closes("a non-final continuation with nothing to continue", [.continuation("x", fin: false)], 1002),
        .closes("a text frame in the middle of a fragmented text message",
                [.text("a", fin: false), .text("b")], 1002),
        .closes("a binary frame in the middle of a fragmented text message",
                [.text("a", fin: false), .continuation("b", fin: false), .binary([1])], 1002),
        ProtocolCase(name: "a continuation after a complete message", frames: [.text("a"), .continuation("b")],
                     outcome: .closes(1002), before: [.init(fin: true, opcode: 0x1, payload: Array("a".utf8))]),
        ProtocolCase(name: "a ping of 125 bytes is answered",
                     frames: [RawFrame(opcode: 0x9, payload: Array(repeating: 0x61, count: 125))],
                     outcome: .frames([.init(fin: true, opcode: 0xA, payload: Array(repeating: 0x61, count: 125))])),
        ProtocolCase(name: "pings and pongs between fragments: pongs at once, the message whole at its end",
                     frames: [.text("Hel", fin: false), .ping("p1"), .continuation("lo", fin: false),
                              .pong("unasked"), .continuation(" wor", fin: false), .ping("p2"), .continuation("ld")],
                     outcome: .frames([.init(fin: true, opcode: 0xA, payload: Array("p1".utf8)),
                                       .init(fin: true, opcode: 0xA, payload: Array("p2".utf8)),
                                       .init(fin: true, opcode: 0x1, payload: Array("Hello world".utf8))])),
        ProtocolCase(name: "an unasked pong gets nothing; the next message is echoed",
                     frames: [.pong("x"), .text("after")],
                     outcome: .frames([.init(fin: true, opcode: 0x1, payload: Array("after".utf8))])),
    ]

    /// Lengths and the message limit.
    static let sizes: [ProtocolCase] = {
        let twoHundred = Array(repeating: UInt8(ascii: "z"), count: 200)
        let biggest16 = (0..<0xFFFF).map { UInt8(truncatingIfNeeded: $0) }
        let whole = (0..<limit).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let quarter = limit / 4
        return [
            .echo("a 16-bit length frame (200 B)", [.text(twoHundred)], text: twoHundred),
            .echo("the largest 16-bit length frame (65,535 B)", [.binary(biggest16)], binary: biggest16),
            .echo("a 64-bit length frame (200 B in the 64-bit form)",
                  [RawFrame(opcode: 0x1, payload: twoHundred, lengthForm: .sixtyFourBit)], text: twoHundred),
            .echo("a 64 KiB message in one frame (64-bit length) is echoed whole", [.binary(whole)], binary: whole),
            .echo("a 64 KiB message in 4 fragments is echoed whole, as one frame",
                  [.binary(Array(whole[..<quarter]), fin: false),
                   .continuation(Array(whole[quarter..<2 * quarter]), fin: false),
                   .continuation(Array(whole[2 * quarter..<3 * quarter]), fin: false),
                   .continuation(Array(whole[(3 * quarter)...]))],
                  binary: whole),
            .closes("a fragmented message one fragment over the limit is 1009",
                    [.binary(Array(whole[..<(limit / 2)]), fin: false),
                     .continuation(Array(whole[(limit / 2)...]), fin: false), .continuation([0])], 1009),
            .closes("a fragmented text message over the limit is 1009",
                    [.text(Array(repeating: 0x61, count: 40_000), fin: false),
                     .continuation(Array(repeating: 0x62, count: 40_000))], 1009),
        ]
    }()

    /// Close frames (5.5.1, 7.4).
    static let close: [ProtocolCase] = {
        var rows: [ProtocolCase] = [
            .closes("a close without a code is answered without one", [RawFrame(opcode: 0x8, payload: [])], nil),
            .closes("a close payload of one byte", [RawFrame(opcode: 0x8, payload: [0x03])], 1002),
            .closes("a close with a UTF-8 reason is echoed", [.close(1000, reason: Array("bye µ".utf8))], 1000),
            .closes("a close with a 123-byte reason is echoed",
                    [.close(1000, reason: Array(repeating: 0x72, count: 123))], 1000),
            .closes("a close reason that is not UTF-8",
                    [.close(1000, reason: [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xED, 0xA0, 0x80])], 1002),
            .closes("a close reason cut inside a sequence", [.close(1000, reason: [0x61, 0xE2, 0x82])], 1002),
        ]
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            rows.append(.closes("close code \(code) is echoed", [.close(code)], code))
        }
        let notOnTheWire: [(UInt16, String)] = [
            (0, "0–999"), (999, "0–999"), (1004, "reserved"), (1005, "no status, local only"),
            (1006, "abnormal closure, local only"), (1015, "TLS failure, local only"), (1016, "unassigned 1016–2999"),
            (1100, "unassigned 1016–2999"), (2000, "unassigned 1016–2999"), (2999, "unassigned 1016–2999"),
            (5000, "above 4999"), (65535, "above 4999"),
        ]
        for (code, kind) in notOnTheWire {
            rows.append(.closes("close code \(code) (\(kind)) is a protocol error", [.close(code)], 1002))
        }
        return rows
    }()
}

@Suite("RFC 6455 on the wire: raw frames against the real server")
struct WebSocketProtocolTests {
    /// How long the server may take to close the TCP connection once its close frame is out.
    /// Shorter than the 3 s it waits for the client's close frame after a close of its own
    /// (shed, drop, shutdown), so a server that waits instead of closing fails here.
    static let closeBound = Duration.seconds(2)

    @Test("UTF-8 (8.1): 1007 for invalid text, whole echoes for valid text however split",
          arguments: ProtocolCases.utf8)
    func utf8(row: ProtocolCase) async throws {
        try await run(row)
    }

    @Test("framing (5.1, 5.2, 5.4, 5.5): 1002 for protocol errors, pongs between fragments",
          arguments: ProtocolCases.framing)
    func framing(row: ProtocolCase) async throws {
        try await run(row)
    }

    @Test("lengths and the message limit (MAX_MESSAGE_BYTES, 64 KiB): echoed whole, or 1009",
          arguments: ProtocolCases.sizes)
    func sizes(row: ProtocolCase) async throws {
        try await run(row)
    }

    @Test("close frames (5.5.1, 7.4): codes allowed on the wire echoed, others 1002",
          arguments: ProtocolCases.close)
    func closeFrames(row: ProtocolCase) async throws {
        try await run(row)
    }

    @Test("a single frame over MAX_MESSAGE_BYTES is 1009, and the limit is configurable")
    func configuredLimit() async throws {
        try await TestServer.with(maxMessageBytes: 1000) { server in
            let client = try await server.connectRaw("limited")
            let exactly = Array(repeating: UInt8(ascii: "a"), count: 1000)
            try await client.send([.text(exactly)])
            #expect(try await within { try await client.nextFrame() } == .init(fin: true, opcode: 0x1, payload: exactly))
            try await client.send([.text(Array(repeating: 0x61, count: 600), fin: false),
                                   .continuation(Array(repeating: 0x62, count: 400))])
            #expect(try await within { try await client.nextFrame() }?.payload.count == 1000)
            // One byte more, in one frame: NIO's decoder refuses it from its header.
            try? await client.send([.binary(Array(repeating: 0, count: 1001))])
            #expect(try await within { try await client.nextFrame() }?.closeCode == 1009)
            try await within(Self.closeBound) { try await client.readUntilEnd() }
            #expect(await TestSupport.eventually { server.store.records.isEmpty })
        }
    }

    private func run(_ row: ProtocolCase) async throws {
        try await TestServer.with { server in
            let client = try await server.connectRaw("rfc")
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            // The server may close while a long write of ours is still going out.
            do { try await client.send(row.frames) } catch { if case .frames = row.outcome { throw error } }
            switch row.outcome {
            case .frames(let expected):
                for frame in expected {
                    #expect(try await within { try await client.nextFrame() } == frame)
                }
                try await client.send([.close(1000)])
                #expect(try await within { try await client.nextFrame() }?.closeCode == 1000)
                try await within(Self.closeBound) { try await client.readUntilEnd() }
            case .closes(let code):
                for frame in row.before {
                    #expect(try await within { try await client.nextFrame() } == frame)
                }
                let frame = try await within { try await client.nextFrame() }
                #expect(frame?.opcode == 0x8, "a close frame, got \(String(describing: frame))")
                #expect(frame?.closeCode == code)
                if let reason = frame?.payload.dropFirst(2) {
                    #expect(UTF8Validator.isValid(reason), "the server's close reason is UTF-8")
                }
                // The TCP connection is closed by the server, with no answer from the client.
                try await within(Self.closeBound) { try await client.readUntilEnd() }
            }
            #expect(await TestSupport.eventually { server.store.records.isEmpty && server.server.liveSessionCount == 0 })
            await client.close()
        }
    }
}
