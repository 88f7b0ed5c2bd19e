import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
import WSScaleAPI
import WSScaleBalancer
import WSScaleCore
import WSScaleDashboard
import WSScaleLocalStack
@testable import WSScaleBackends
@testable import WSScaleClient
@testable import WSScaleServer

/// Every parser that takes input from outside, fuzzed from its corpus (`Corpus/`): none may
/// trap, and each keeps what it promises for whatever it accepts. One parser at a time, each
/// on a thread of its own (`Fuzzer.hunt`).
@Suite("fuzzing the parsers of outside input", .serialized)
struct ParserFuzzTests {
    @Test("user ids: what the one rule (server and client alike) accepts is 1-128 of [A-Za-z0-9._@-]")
    func userIDs() async {
        let problems = await Fuzzer.hunt(corpus: "user-ids") { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            guard IdentifierRule.userId.isValid(text) else { return nil }
            if !(1...128).contains(text.unicodeScalars.count) { return "accepted a length of \(text.unicodeScalars.count)" }
            let allowed = text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._@-".unicodeScalars.contains($0))
            }
            return allowed ? nil : "accepted a character outside the set"
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("batch bodies (client simulator): a 400 with a reason, or valid, distinct ids within the limit")
    func batchBodies() async {
        let problems = await Fuzzer.hunt(corpus: "batch-bodies", maxNesting: 100_000) { bytes in
            do {
                let batch = try BatchRequest(json: bytes)
                if batch.userIDs.isEmpty || batch.userIDs.count > BatchRequest.maxUserIDs { return "\(batch.userIDs.count) ids" }
                if Set(batch.userIDs).count != batch.userIDs.count { return "duplicate ids" }
                return batch.userIDs.allSatisfy(IdentifierRule.userId.isValid) ? nil : "an invalid id accepted"
            } catch let rejection as BatchRequest.Rejection {
                return rejection.reason.isEmpty ? "a rejection without a reason" : nil
            } catch {
                return "not a rejection: \(error)"
            }
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("connect bodies (dashboard): a reason, or a count and a prefix within their limits")
    func connectBodies() async {
        let problems = await Fuzzer.hunt(corpus: "connect-bodies", maxNesting: 100_000) { bytes in
            guard let request = try? ConnectRequest(json: bytes) else { return nil }
            if !(1...ConnectRequest.maxCount).contains(request.count) { return "count \(request.count)" }
            return request.prefix.count <= ConnectRequest.maxPrefixLength ? nil : "a prefix of \(request.prefix.count)"
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("drop bodies (server): a reason, or no id, or a session id")
    func dropBodies() async {
        let problems = await Fuzzer.hunt(corpus: "drop-bodies", maxNesting: 100_000) { bytes in
            if case .success(let id?) = RESTEndpoints.parseDropRequest(ByteBuffer(bytes: bytes)), id.isEmpty {
                return "an empty session id accepted"
            }
            return nil
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("Redis URLs: a named error, or a host, a port in 1-65535 and a database, read back the same")
    func redisURLs() async {
        let problems = await Fuzzer.hunt(corpus: "redis-urls") { bytes in
            guard let url = try? RedisURL(parsing: String(decoding: bytes, as: UTF8.self)) else { return nil }
            if !(1...65535).contains(url.port) || url.database < 0 { return "port \(url.port), database \(url.database)" }
            return (try? RedisURL(parsing: url.connectionString)) == url ? nil : "\(url.connectionString) does not read back as itself"
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("HAProxy answers: any text is read into rows without trapping")
    func haproxyAnswers() async {
        let problems = await Fuzzer.hunt(corpus: "haproxy-answers") { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            _ = HAProxyAnswers.parseInfo(text)
            _ = HAProxyAnswers.parseStat(text)
            let servers = HAProxyAnswers.servers(serversState: text, stat: text, backend: "wsscale_servers")
            return servers.allSatisfy { !$0.name.isEmpty } ? nil : "a server without a name"
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("engine events: any line decodes or is skipped; any timeNano gives a timestamp of digits")
    func engineEvents() async {
        let problems = await Fuzzer.hunt(corpus: "engine-events", maxNesting: 100_000) { bytes in
            guard let event = try? JSONDecoder().decode(ContainerEvent.self, from: Data(bytes)), let nanos = event.timeNano else {
                return nil
            }
            let stamp = ContainerEventTime.timestamp(nanoseconds: nanos)
            return stamp.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : "timestamp \(stamp)"
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("WebSocket bytes: NIO's decoder, then the server's frame rules; what is held never passes the message limit")
    func webSocketFrames() async {
        let limit = 1 << 16
        let problems = await Fuzzer.hunt(corpus: "websocket-frames") { bytes in
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: limit)))
            defer { _ = try? channel.finish() }
            var machine = InboundFrameStateMachine(maxMessageBytes: limit)
            // A decoding error is the decoder's answer to bad bytes (the server closes with 1002).
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
            while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
                if case .fail = machine.receive(frame) { break }
                if machine.bytesInFlight > limit { return "\(machine.bytesInFlight) bytes held" }
            }
            return nil
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// The fuzzed text both ways a command gets it: as variables of the process environment
    /// (one `NAME=value` a line), and as `.env` under an empty environment.
    static func environmentSources(_ bytes: [UInt8]) -> [(environment: [String: String], dotEnv: String?)] {
        let text = String(decoding: bytes, as: UTF8.self)
        var environment: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return [(environment, nil), ([:], text)]
    }

    @Test("configuration: any .env gives a named error for each bad variable, or settings that hold together")
    func environment() async {
        let problems = await Fuzzer.hunt(corpus: "environment") { bytes in
            for source in Self.environmentSources(bytes) {
                do {
                    let scaling = try ScalingConfiguration.read(environment: source.0, dotEnv: source.1)
                    if scaling.minInstances > scaling.maxInstances { return "MIN_INSTANCES above MAX_INSTANCES accepted" }
                } catch let error as ConfigurationError {
                    if error.issues.contains(where: { $0.variable.isEmpty || $0.message.isEmpty }) { return "an issue without a name" }
                } catch {
                    return "not a configuration error: \(error)"
                }
                _ = try? ServerConfiguration.read(environment: source.0, dotEnv: source.1)
                _ = try? ClientConfiguration.read(environment: source.0, dotEnv: source.1)
            }
            return nil
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("configuration of the balancer, up, the dashboard, every backend's driver and the engine proxy: no trap, every issue names its variable")
    func deploymentEnvironment() async {
        let problems = await Fuzzer.hunt(corpus: "environment") { bytes in
            for source in Self.environmentSources(bytes) {
                // The readers in the combinations the subcommands use, then every backend's own.
                var reader = EnvironmentReader(environment: source.environment, dotEnv: source.dotEnv)
                let balancer = BalancerSettings.read(from: &reader)
                _ = DriverSettings.read(for: balancer.backend, from: &reader)
                _ = LocalStackSettings.read(from: &reader)
                _ = DashboardSettings.read(from: &reader)
                _ = EngineProxySettings.read(from: &reader)
                _ = LogLevelSetting.read(from: &reader)
                var issues = reader.issues
                for backend in BackendKind.allCases {
                    var driverReader = EnvironmentReader(environment: source.environment, dotEnv: source.dotEnv)
                    _ = DriverSettings.read(for: backend, from: &driverReader)
                    issues += driverReader.issues
                }
                if let unnamed = issues.first(where: { $0.variable.isEmpty || $0.message.isEmpty }) {
                    return "an issue without a name or a message: \(unnamed)"
                }
                if issues.isEmpty, !(1...65535).contains(balancer.apiPort) { return "BALANCER_PORT \(balancer.apiPort) accepted" }
            }
            return nil
        }
        #expect(problems.isEmpty, "\(problems)")
    }
}
