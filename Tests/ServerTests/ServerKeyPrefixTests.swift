import Testing
import WSScaleCore
import WSScaleServer

/// `REDIS_KEY_PREFIX` is checked by the server's configuration reading with the same rule as
/// the balancer's (a prefix the reading let through trapped in `RedisKeySchema`).
@Suite struct ServerKeyPrefixTests {
    @Test(arguments: ["my pool", "a;b", "{pool}", "a*", ""])
    func aBadPrefixIsRefusedUnderItsVariable(prefix: String) {
        // An empty value means "unset" (the default), as for every variable.
        guard !prefix.isEmpty else {
            #expect((try? ServerConfiguration.read(environment: ["REDIS_KEY_PREFIX": prefix]))?.redisKeyPrefix == "wsscale")
            return
        }
        #expect {
            _ = try ServerConfiguration.read(environment: ["REDIS_KEY_PREFIX": prefix])
        } throws: { error in
            (error as? ConfigurationError)?.issues.map(\.variable) == ["REDIS_KEY_PREFIX"]
        }
    }

    @Test func aGoodPrefixIsKept() throws {
        #expect(try ServerConfiguration.read(environment: ["REDIS_KEY_PREFIX": "pool-a:1"]).redisKeyPrefix == "pool-a:1")
    }
}
