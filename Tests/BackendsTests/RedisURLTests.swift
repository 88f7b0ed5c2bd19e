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
}
