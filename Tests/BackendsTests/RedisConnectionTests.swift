import Foundation
import Logging
import NIOPosix
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
import Testing

/// The hiredis + SwiftNIO client against a real redis-server.
@Suite struct RedisConnectionTests {
    @Test func roundTripAndErrorReplies() async throws {
        try await RedisTestFixture.with { fixture in
            let redis = try await fixture.connection()
            #expect(try await redis.send(["SET", "greeting", "hé llo\r\n"]) == .simpleString("OK"))
            #expect(try await redis.send(["GET", "greeting"]) == .bulkString("hé llo\r\n"))
            #expect(try await redis.send(["GET", "missing"]) == .null)
            #expect(try await redis.send(["RPUSH", "list", "a", "b"]) == .integer(2))
            #expect(try await redis.send(["LRANGE", "list", "0", "-1"]) == .array([.bulkString("a"), .bulkString("b")]))
            await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND"]) }
            // An error reply inside a pipeline stays in its place.
            let replies = try await redis.pipeline([["PING"], ["INCR", "greeting"], ["ECHO", "x"]])
            #expect(replies[0] == .simpleString("PONG"))
            #expect(replies[1].isError)
            #expect(replies[2] == .bulkString("x"))
            await redis.close()
        }
    }

    @Test func pipelinesTenThousandCommandsInOrder() async throws {
        try await RedisTestFixture.with { fixture in
            let redis = try await fixture.connection()
            let commands = (1...10_000).map { _ in ["INCR", "counter"] }
            let start = ContinuousClock.now
            let replies = try await redis.pipeline(commands)
            let elapsed = ContinuousClock.now - start
            #expect(replies == (1...10_000).map { RedisValue.integer(Int64($0)) })
            // Concurrent single sends share the connection; FIFO matching keeps each reply with its caller.
            let echoed = try await withThrowingTaskGroup(of: (Int, RedisValue).self) { group in
                for index in 0..<1_000 {
                    group.addTask { (index, try await redis.send(["ECHO", "m\(index)"])) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(echoed.count == 1_000)
            #expect(echoed.allSatisfy { $0.value == .bulkString("m\($0.key)") })
            print("pipeline of 10,000 INCR: \(elapsed)")
            await redis.close()
        }
    }

    @Test func logsInAndSelectsTheDatabase() async throws {
        let server = try await TestRedisServer.start()
        defer { server.stop() }
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = Logger(label: "test")
        // A password on the default user, as `--requirepass` would set it.
        let open = try await RedisConnection.connect(to: RedisURL(parsing: server.url), eventLoopGroup: group, logger: logger)
        _ = try await open.send(["CONFIG", "SET", "requirepass", "s3cret"])
        await open.close()
        let url = try RedisURL(parsing: "redis://:s3cret@127.0.0.1:\(server.port)/5")
        let redis = try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger)
        try await redis.send(["SET", "k", "in five"])
        let clientInfo = try await redis.send(["CLIENT", "INFO"]).string ?? ""
        #expect(clientInfo.contains("db=5"))
        await redis.close()

        var wrong = url
        wrong.password = "nope"
        await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(to: wrong, eventLoopGroup: group, logger: logger)
        }
        var anonymousInFive = url
        anonymousInFive.password = nil
        await #expect(throws: RedisError.self, "SELECT needs AUTH first") {
            try await RedisConnection.connect(to: anonymousInFive, eventLoopGroup: group, logger: logger)
        }
        var anonymous = anonymousInFive
        anonymous.database = 0
        let unauthenticated = try await RedisConnection.connect(to: anonymous, eventLoopGroup: group, logger: logger)
        await #expect(throws: RedisError.self) { try await unauthenticated.send(["GET", "k"]) }
        await unauthenticated.close()
    }

    /// A Redis that stops answering (`CLIENT PAUSE`, as a SIGSTOP or a partition would) is an
    /// error within the reply deadline, never a hang, and the connection is closed.
    @Test func aStalledRedisIsATimeoutNotAHang() async throws {
        let server = try await TestRedisServer.start()
        defer { server.stop() }
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = Logger(label: "test")
        let url = try RedisURL(parsing: server.url)
        let admin = try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger)
        // Only the request made during the pause has the short deadline: nothing else in this
        // test depends on how fast a busy machine answers.
        let redis = try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger, replyTimeout: .milliseconds(300))
        try await admin.send(["SET", "k", "v"])
        try await admin.send(["CLIENT", "PAUSE", "20000", "ALL"])
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: RedisError.self) { try await redis.send(["GET", "k"]) }
        let waited = clock.now - start
        print("stalled Redis: \(String(describing: error)) after \(waited)")
        guard case .timedOut? = error else { Issue.record("expected a timeout, got \(String(describing: error))"); return }
        #expect(waited < .seconds(20), "the deadline, not the end of the pause, ended the wait")
        #expect(await TestSupport.eventually { !redis.isActive }, "a connection whose replies can no longer be matched is closed")
        await admin.close() // the paused server is stopped with the test
    }

    @Test func requestsFailWhenRedisGoesAway() async throws {
        try await RedisTestFixture.with { fixture in
            let redis = try await fixture.connection()
            try await redis.send(["PING"])
            await fixture.redis.kill()
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { !redis.isActive })
            await #expect(throws: RedisError.connectionClosed) { try await redis.send(["PING"]) }
            await #expect(throws: (any Error).self) { try await fixture.connection() }
        }
    }

    @Test("a SUBSCRIBE refused for one of its channels (NOPERM) fails with Redis's refusal, not by running out the reply deadline")
    func refusedSubscribeFailsAtOnce() async throws {
        try await RedisTestFixture.with { fixture in
            let admin = try await fixture.connection()
            _ = try await admin.send(["ACL", "SETUSER", "listener", "on", ">secret", "resetchannels", "&allowed", "+@all"])
            var url = fixture.url
            url.username = "listener"
            url.password = "secret"
            let subscriber = try await RedisSubscriber.connect(to: url, eventLoopGroup: fixture.group, logger: fixture.logger)
            let clock = ContinuousClock()
            let started = clock.now
            // What it fails with tells the two apart, whatever the machine's speed: Redis's own
            // NOPERM when the refusal is heard, `timedOut` when the caller waited for
            // confirmations that never come (the bug).
            let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe(["allowed", "forbidden"]) }
            let took = clock.now - started
            print("a SUBSCRIBE refused with NOPERM failed after \(took) with \(error.map(String.init(describing:)) ?? "nothing") (reply deadline \(RedisChannel.defaultReplyTimeout))")
            guard case .errorReply(let message)? = error else {
                Issue.record("refused with \(String(describing: error)), not Redis's refusal: the caller waited for confirmations that never come")
                return
            }
            #expect(message.hasPrefix("NOPERM"), "\(message)")
            await subscriber.close()
            await admin.close()
        }
    }

    @Test func subscriberReceivesChannelAndPatternMessages() async throws {
        try await RedisTestFixture.with { fixture in
            let subscriber = try await RedisSubscriber.connect(to: fixture.url, eventLoopGroup: fixture.group,
                                                               logger: fixture.logger)
            try await subscriber.subscribe(["news", "sport"])
            try await subscriber.psubscribe(["cmd:*"])
            let publisher = try await fixture.connection()
            #expect(try await publisher.send(["PUBLISH", "news", "one"]) == .integer(1))
            try await publisher.send(["PUBLISH", "cmd:h1", "two"])
            try await publisher.send(["PUBLISH", "other", "ignored"])
            try await publisher.send(["PUBLISH", "sport", "three"])
            var received: [RedisPubSubMessage] = []
            for await message in subscriber.messages {
                received.append(message)
                if received.count == 3 { break }
            }
            #expect(received == [
                RedisPubSubMessage(channel: "news", payload: "one"),
                RedisPubSubMessage(channel: "cmd:h1", pattern: "cmd:*", payload: "two"),
                RedisPubSubMessage(channel: "sport", payload: "three"),
            ])
            await subscriber.close()
            var ended = true
            for await _ in subscriber.messages { ended = false }
            #expect(ended, "messages finishes when the connection closes")
            await publisher.close()
        }
    }
}
