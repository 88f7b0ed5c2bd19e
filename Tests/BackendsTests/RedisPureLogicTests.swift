@testable import WSScaleBackends
import WSScaleCore
import NIOCore
import Testing

/// The adapter's pure parts: command wire format, the in-memory session table, backoff,
/// RESP encoding and decoding through hiredis.
@Suite struct RedisPureLogicTests {
    @Test(arguments: [HostCommand.shed(count: 7), .drain, .activate, .drop(sessionId: "a b-c")])
    func hostCommandsSurviveTheWire(command: HostCommand) {
        #expect(HostCommandWireFormat.decode(HostCommandWireFormat.encode(command)) == command)
    }

    @Test(arguments: ["", "shed", "shed x", "shed -1", "drop ", "drain now", "reboot"])
    func malformedHostCommandsAreRejected(text: String) {
        #expect(HostCommandWireFormat.decode(text) == nil)
    }

    private func record(_ id: String, at time: Int64 = 1) -> SessionRecord {
        SessionRecord(userId: "u-\(id)", sessionId: id, hostId: "h", connectedAt: time, lastActive: time)
    }

    @Test func tableBatchesOpensClosesAndTouches() {
        var table = HostSessionTable()
        table.open(record("a"))
        table.open(record("b"))
        table.close(sessionId: "b")
        table.close(sessionId: "unknown")
        var changes = table.takeChanges()
        #expect(changes.upserts == [record("a")])
        #expect(changes.removals == ["b"])
        #expect(changes.countChanged)
        #expect(table.takeChanges().isEmpty)

        table.touch(sessionId: "a", at: 50)
        table.touch(sessionId: "a", at: 40)      // never backwards
        table.touch(sessionId: "zzz", at: 60)    // unknown: ignored
        changes = table.takeChanges()
        #expect(changes.isEmpty, "a touch alone is written lazily, with the lease")
        #expect(table.takeTouched().map(\.lastActive) == [50])
        #expect(table.takeTouched().isEmpty)
    }

    @Test func tableRewriteTakesEverythingAndClearsPending() {
        var table = HostSessionTable()
        for id in ["a", "b", "c"] { table.open(record(id)) }
        table.close(sessionId: "c")
        table.touch(sessionId: "a", at: 9)
        let all = table.takeEverything()
        #expect(Set(all.map(\.sessionId)) == ["a", "b"])
        #expect(table.takeChanges().isEmpty)
        #expect(table.takeTouched().isEmpty)
    }

    @Test func reconnectWaitsGrowWithHalfJitterUpToTwoSeconds() {
        var generator = SystemRandomNumberGenerator()
        let delays = (1...8).map { RedisReconnectLoop.backoff.delay(forAttempt: $0, using: &generator) }
        #expect(delays[0] >= .milliseconds(50) && delays[0] <= .milliseconds(100))
        #expect(delays[3] >= .milliseconds(400) && delays[3] <= .milliseconds(800))
        #expect(delays.allSatisfy { $0 <= .seconds(2) })
        #expect(delays[7] >= .seconds(1))
    }

    @Test func hiredisReaderDecodesSplitAndNestedReplies() throws {
        let reader = RedisReplyReader()
        let bytes = "+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n-ERR bad\r\n"
        let allocator = ByteBufferAllocator()
        var values: [RedisValue] = []
        // Fed in 3-byte pieces: replies complete only when their last byte arrives.
        for piece in Array(bytes.utf8).chunks(of: 3) {
            try reader.feed(allocator.buffer(bytes: piece))
            while let value = try reader.nextReply() { values.append(value) }
        }
        #expect(values == [.simpleString("OK"), .integer(42), .bulkString("hello"), .null,
                           .array([.bulkString("a"), .array([.error("ERR bad")])])])
        try reader.feed(allocator.buffer(string: "?garbage\r\n"))
        #expect(throws: RedisError.self) { try reader.nextReply() }
    }

    @Test func encoderWritesRESPArrays() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        RedisCommandEncoder.encode([["SET", "k", ""], ["GET", "ключ"]], into: &buffer)
        #expect(buffer.readString(length: buffer.readableBytes)
                == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$8\r\nключ\r\n")
    }
}

/// The users `wsscale up` runs redis-server with (pure: the file's text).
@Suite struct RedisACLTests {
    @Test("the default user is off; the balancer is confined to the pool's prefix and may make the servers' users")
    func fileText() {
        let acl = RedisACL(keyPrefix: "pool", balancerPassword: String(repeating: "b", count: 64))
        let lines = acl.fileText().split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0] == "user default off resetkeys resetchannels -@all")
        let balancer = lines.first { $0.hasPrefix("user wsscale-balancer ") } ?? ""
        #expect(balancer.contains(" ~pool:* &pool:* -@all ") && balancer.contains("+eval") && balancer.contains("+acl|setuser"))
        #expect(!balancer.contains("+@all") && !balancer.contains("+flushall"))
        #expect(acl.balancerURL(host: "127.0.0.1", port: 6379).description == "redis://wsscale-balancer:***@127.0.0.1:6379/0")
    }

    @Test("each server's user writes only its own keys, hears only its own commands, and its password is derived")
    func serverUser() throws {
        let acl = RedisACL(keyPrefix: "pool", balancerPassword: String(repeating: "b", count: 64))
        let user = RedisServerUser(id: "ws-1", acl: acl)
        #expect(user.name == "wsscale-server-ws-1")
        #expect(user.password.count == 64 && user.password.allSatisfy(\.isHexDigit))
        // The same for the same balancer password, another for another id or password.
        #expect(RedisServerUser(id: "ws-1", acl: acl).password == user.password)
        #expect(RedisServerUser(id: "ws-2", acl: acl).password != user.password)
        #expect(RedisServerUser(id: "ws-1", acl: RedisACL(keyPrefix: "pool", balancerPassword: String(repeating: "c", count: 64))).password != user.password)
        #expect(!user.password.contains(acl.balancerPassword))
        let rule = user.setUserCommand
        #expect(Array(rule.prefix(6)) == ["ACL", "SETUSER", "wsscale-server-ws-1", "reset", "on", ">\(user.password)"])
        #expect(rule.contains("~pool:hosts") && rule.contains("~pool:host:ws-1:*") && rule.contains("%R~pool:host:*"))
        #expect(rule.contains("&pool:cmd:ws-1") && rule.contains("&pool:drop:*") && rule.contains("&pool:events"))
        for forbidden in ["+eval", "+flushall", "+config", "+keys", "+@all", "~*", "&*", "~pool:host:*", "&pool:cmd:*", "+acl"] {
            #expect(!rule.contains(forbidden), "a server's user has \(forbidden)")
        }
        let url = user.url(at: try RedisURL(parsing: "redis://wsscale-balancer:secret@redis:6380/2"))
        #expect(url.connectionString == "redis://wsscale-server-ws-1:\(user.password)@redis:6380/2")
    }

    @Test("a file it wrote is read back; another prefix, an edited file or garbage is not")
    func parse() {
        let acl = RedisACL.generate(keyPrefix: "pool")
        #expect(RedisACL.parse(acl.fileText(), keyPrefix: "pool") == acl)
        #expect(RedisACL.parse(acl.fileText(), keyPrefix: "other") == nil)
        #expect(RedisACL.parse(acl.fileText().replacingOccurrences(of: "-@all +auth", with: "+@all +auth"), keyPrefix: "pool") == nil)
        #expect(RedisACL.parse("user default on nopass ~* +@all\n", keyPrefix: "pool") == nil)
        // Another version's command list: the password is kept (the file is written again).
        #expect(RedisACL.parse(acl.fileText().replacingOccurrences(of: " +pexpire", with: ""), keyPrefix: "pool") == acl)
        for added in [" +@admin", " ~*", " &*", " allcommands", " +flushall ~*"] {
            #expect(RedisACL.parse(acl.fileText().replacingOccurrences(of: " +info", with: " +info" + added), keyPrefix: "pool") == nil,
                    "\(added) is not a command of ours")
        }
        #expect(RedisACL.generate(keyPrefix: "pool") != acl)
    }
}
