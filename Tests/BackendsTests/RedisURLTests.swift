@testable import WSScaleBackends
import WSScaleCore
import Testing

@Suite struct RedisURLTests {
    @Test(arguments: [
        ("redis://127.0.0.1", RedisURL(host: "127.0.0.1")),
        ("redis://localhost:6380", RedisURL(host: "localhost", port: 6380)),
        ("redis://redis:6379/3", RedisURL(host: "redis", port: 6379, database: 3)),
        ("redis://:s3cret@10.0.0.1:7000/1", RedisURL(host: "10.0.0.1", port: 7000, password: "s3cret", database: 1)),
        ("redis://app:pa%40ss@h", RedisURL(host: "h", username: "app", password: "pa@ss")),
        ("REDIS://[::1]:6390/", RedisURL(host: "::1", port: 6390)),
    ])
    func parsesValidURLs(text: String, expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    @Test(arguments: [
        ("http://127.0.0.1", "must start with redis://"),
        ("redis://", "the host is missing"),
        ("redis://:6379", "the host is missing"),
        ("redis://h:0", "the port must be a number from 1 to 65535"),
        ("redis://h:70000", "the port must be a number from 1 to 65535"),
        ("redis://h:abc", "the port must be a number from 1 to 65535"),
        ("redis://h/x", "the database must be a number of 0 or more"),
        ("redis://h/-1", "the database must be a number of 0 or more"),
        ("redis://secret@h", "credentials need a password"),
        ("redis://user:@h", "the password is empty"),
        ("redis://:p%4@h", "invalid percent escape"),
        ("redis://h?db=1", "query parameters"),
        ("redis://[::1", "closing ]"),
    ])
    func rejectsBadURLsNamingTheVariable(text: String, problem: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try RedisURL(parsing: text) }
        #expect(error.issues.count == 1)
        #expect(error.issues[0].variable == "REDIS_URL")
        #expect(error.issues[0].message.contains(problem), "\(error.issues[0].message)")
    }

    @Test("rediss:// is refused naming REDIS_URL and saying TLS is not supported, never showing the password")
    func refusesTLS() throws {
        for text in ["rediss://app:hunter2@redis.example:6380/0", "REDISS://redis.example"] {
            let error = try #require(throws: ConfigurationError.self) { try RedisURL(parsing: text) }
            print("rediss rule: \(text.replacingOccurrences(of: "hunter2", with: "***")) → \(error.description)")
            #expect(error.issues.map(\.variable) == ["REDIS_URL"])
            #expect(error.issues[0].message == RedisSchemeRule.tlsProblem)
            #expect(error.description.contains("REDIS_URL: rediss:// (TLS) is not supported"), "\(error)")
            #expect(!error.description.contains("hunter2"), "\(error)")
        }
    }

    @Test func namesTheGivenVariableAndMasksThePassword() throws {
        let error = try #require(throws: ConfigurationError.self) { try RedisURL(parsing: "nope", variable: "SESSION_REDIS") }
        #expect(error.description.contains("SESSION_REDIS"))
        let url = try RedisURL(parsing: "redis://:hunter2@h:1/2")
        #expect(url.description == "redis://:***@h:1/2")
    }

    @Test("redis+sentinel:// names the sentinels (26379 unless given) and the master, with the master's credentials and database")
    func parsesSentinelURLs() throws {
        let url = try RedisURL(parsing: "redis+sentinel://app:pa%40ss@10.0.0.5,10.0.0.6:26380,[::1]/wsscale-main/2")
        let expected = RedisSentinelGroup(sentinels: [RedisEndpoint(host: "10.0.0.5", port: 26379),
                                                      RedisEndpoint(host: "10.0.0.6", port: 26380),
                                                      RedisEndpoint(host: "::1", port: 26379)],
                                          masterName: "wsscale-main")
        #expect(url.sentinel == expected)
        #expect(url.username == "app" && url.password == "pa@ss" && url.database == 2)
        #expect(url.description == "redis+sentinel://app:***@10.0.0.5:26379,10.0.0.6:26380,[::1]:26379/wsscale-main/2")
        #expect(try RedisURL(parsing: url.connectionString) == url, "what the balancer hands the servers reads back the same")
        let plain = try RedisURL(parsing: "REDIS+SENTINEL://s1/m")
        #expect(plain.sentinel == RedisSentinelGroup(sentinels: [RedisEndpoint(host: "s1", port: 26379)], masterName: "m"))
        #expect(plain.database == 0 && plain.password == nil)
        // A server's own user at a sentinel URL keeps the sentinels.
        let acl = RedisACL(keyPrefix: "wsscale", balancerPassword: String(repeating: "ab", count: 32))
        let server = RedisServerUser(id: "ws-1", acl: acl).url(at: url)
        #expect(server.sentinel == expected && server.username == "wsscale-server-ws-1")
    }

    @Test(arguments: [
        ("redis+sentinel://s1", "the master's name is missing"),
        ("redis+sentinel://s1/", "the master's name is missing"),
        ("redis+sentinel://s1/m/x", "the database must be a number"),
        ("redis+sentinel://s1/m a", "the master's name may hold only"),
        ("redis+sentinel://s1,,s2/m", "the host is missing"),
        ("redis+sentinel://s1:0/m", "the port must be a number from 1 to 65535"),
        ("redis+sentinel://s1,s1:26379/m", "a sentinel is listed twice"),
        ("redis+sentinel://:@s1/m", "the password is empty"),
    ])
    func rejectsBadSentinelURLs(text: String, problem: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try RedisURL(parsing: text) }
        #expect(error.issues.map(\.variable) == ["REDIS_URL"])
        #expect(error.issues[0].message.contains(problem), "\(error.issues[0].message)")
        #expect(error.issues[0].message.contains("redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]"))
    }

    @Test("the sentinels' answer: [ip, port] for a known master, anything else is no answer")
    func readsTheSentinelsAnswer() {
        #expect(RedisSentinelLookup.masterAddress(in: .array([.bulkString("127.0.0.1"), .bulkString("6380")]))
                == RedisEndpoint(host: "127.0.0.1", port: 6380))
        #expect(RedisSentinelLookup.masterAddress(in: .null) == nil)
        #expect(RedisSentinelLookup.masterAddress(in: .array([.bulkString("h"), .bulkString("0")])) == nil)
        #expect(RedisSentinelLookup.masterAddress(in: .array([.bulkString(""), .bulkString("1")])) == nil)
        #expect(RedisSentinelLookup.masterAddress(in: .error("ERR no such master")) == nil)
    }
}
