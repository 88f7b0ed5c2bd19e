import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import WSScaleBackends
@testable import WSScaleClient
import WSScaleCore
import WSScaleDashboard
@testable import WSScaleServer

/// Every parser that takes input from outside, fuzzed from its corpus (`Corpus/`): none may
/// trap, and each keeps what it promises for whatever it accepts.
@Suite("fuzzing the parsers of outside input")
struct ParserFuzzTests {
    @Test("user ids: the client's rule and the server's agree, and what they accept is 1-128 of [A-Za-z0-9._@-]")
    func userIDs() {
        var fuzzer = Fuzzer(corpus: "user-ids")
        fuzzer.run { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            let client = UserID.isValid(text)
            #expect(client == (IdentifierRule.userId.problem(with: text) == nil), "the rules disagree on \(text.debugDescription)")
            if client {
                #expect((1...128).contains(text.unicodeScalars.count))
                #expect(text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._@-".unicodeScalars.contains($0)) })
            }
        }
    }

    @Test("batch bodies (client simulator): a 400 with a reason, or valid, distinct ids within the limit")
    func batchBodies() {
        var fuzzer = Fuzzer(corpus: "batch-bodies", maxNesting: 100_000)
        fuzzer.run { bytes in
            do {
                let batch = try BatchRequest(json: bytes)
                #expect(!batch.userIDs.isEmpty && batch.userIDs.count <= BatchRequest.maxUserIDs)
                #expect(Set(batch.userIDs).count == batch.userIDs.count)
                #expect(batch.userIDs.allSatisfy(UserID.isValid))
            } catch let rejection as BatchRequest.Rejection {
                #expect(!rejection.reason.isEmpty)
            } catch {
                Issue.record("not a rejection: \(error)")
            }
        }
    }

    @Test("connect bodies (dashboard): a reason, or a count and a prefix within their limits")
    func connectBodies() {
        var fuzzer = Fuzzer(corpus: "connect-bodies", maxNesting: 100_000)
        fuzzer.run { bytes in
            guard let request = try? ConnectRequest(json: bytes) else { return }
            #expect((1...ConnectRequest.maxCount).contains(request.count))
            #expect(request.prefix.count <= ConnectRequest.maxPrefixLength)
        }
    }

    @Test("drop bodies (server): a reason, or no id, or a session id")
    func dropBodies() {
        var fuzzer = Fuzzer(corpus: "drop-bodies", maxNesting: 100_000)
        fuzzer.run { bytes in
            if case .success(let id?) = RESTEndpoints.parseDropRequest(ByteBuffer(bytes: bytes)) {
                #expect(!id.isEmpty)
            }
        }
    }

    @Test("Redis URLs: a named error, or a host, a port in 1-65535 and a database, read back the same")
    func redisURLs() {
        var fuzzer = Fuzzer(corpus: "redis-urls")
        fuzzer.run { bytes in
            guard let url = try? RedisURL(parsing: String(decoding: bytes, as: UTF8.self)) else { return }
            #expect((1...65535).contains(url.port))
            #expect(url.database >= 0)
            let again = try? RedisURL(parsing: url.connectionString)
            #expect(again == url, "\(url.connectionString) does not read back as itself")
        }
    }

    @Test("HAProxy answers: any text is read into rows without trapping")
    func haproxyAnswers() {
        var fuzzer = Fuzzer(corpus: "haproxy-answers")
        fuzzer.run { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            _ = HAProxyAnswers.parseInfo(text)
            _ = HAProxyAnswers.parseStat(text)
            for server in HAProxyAnswers.servers(serversState: text, stat: text, backend: "wsscale_servers") {
                #expect(!server.name.isEmpty)
            }
        }
    }

    @Test("engine events: any line decodes or is skipped; any timeNano gives a timestamp of digits")
    func engineEvents() {
        var fuzzer = Fuzzer(corpus: "engine-events", maxNesting: 100_000)
        fuzzer.run { bytes in
            guard let event = try? JSONDecoder().decode(ContainerEvent.self, from: Data(bytes)), let nanos = event.timeNano else { return }
            let stamp = ContainerEventTime.timestamp(nanoseconds: nanos)
            #expect(stamp.allSatisfy { $0.isNumber || $0 == "." }, "\(stamp)")
        }
    }

    @Test("WebSocket bytes: NIO's decoder, then the server's frame rules; what is held never passes the message limit")
    func webSocketFrames() throws {
        var fuzzer = Fuzzer(corpus: "websocket-frames")
        let limit = 1 << 16
        try fuzzer.run { bytes in
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: limit)))
            var machine = InboundFrameStateMachine(maxMessageBytes: limit)
            // A decoding error is the decoder's answer to bad bytes (the server closes with 1002).
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
            while let frame = try channel.readInbound(as: WebSocketFrame.self) {
                if case .fail = machine.receive(frame) { break }
                #expect(machine.bytesInFlight <= limit)
            }
            _ = try? channel.finish()
        }
    }

    @Test("configuration: any .env gives a named error for each bad variable, or settings that hold together")
    func environment() {
        var fuzzer = Fuzzer(corpus: "environment")
        fuzzer.run { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            var environment: [String: String] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                guard let equals = line.firstIndex(of: "=") else { continue }
                environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            for source in [(environment, nil as String?), ([:], text)] {
                do {
                    let scaling = try ScalingConfiguration.load(environment: source.0, dotEnv: source.1)
                    #expect(scaling.minInstances <= scaling.maxInstances)
                } catch let error as ConfigurationError {
                    #expect(error.issues.allSatisfy { !$0.variable.isEmpty && !$0.message.isEmpty })
                } catch {
                    Issue.record("not a configuration error: \(error)")
                }
                _ = try? ServerConfiguration.fromEnvironment(source.0, dotEnv: source.1)
                _ = try? ClientConfiguration.fromEnvironment(source.0, dotEnv: source.1)
            }
        }
    }
}
