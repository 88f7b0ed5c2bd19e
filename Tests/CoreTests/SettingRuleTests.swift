import Testing
@testable import WSScaleCore

/// The allow-lists of settings that reach Redis and HAProxy verbatim.
@Suite struct SettingRuleTests {
    @Test(arguments: ["wsscale", "pool-a", "a.b_c:d-1", String(repeating: "p", count: 64)])
    func goodRedisKeyPrefixes(prefix: String) {
        #expect(SettingRule.redisKeyPrefixProblem(prefix) == nil)
    }

    /// A space used to trap the balancer in `RedisKeySchema`'s precondition.
    @Test(arguments: ["", "my pool", "pool\t", "a;b", "a*", "é", "{pool}", String(repeating: "p", count: 65)])
    func badRedisKeyPrefixes(prefix: String) {
        #expect(SettingRule.redisKeyPrefixProblem(prefix) != nil)
    }

    @Test(arguments: ["wsscale_servers", "be-1.a:b"])
    func goodHAProxyNames(name: String) {
        #expect(SettingRule.haproxyNameProblem(name) == nil)
    }

    @Test(arguments: ["", "servers;shutdown sessions server x/y", "a\tb", "a b", "a\nb", "a#b", "a/b", "ä"])
    func badHAProxyNames(name: String) {
        #expect(SettingRule.haproxyNameProblem(name) != nil)
    }

    @Test(arguments: ["0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1", "localhost", "lb.example.internal", "a-b.c."])
    func goodHosts(host: String) {
        #expect(SettingRule.hostProblem(host) == nil)
    }

    @Test(arguments: ["", "0.0.0.0;x", "0.0.0.0\tssl", "0.0.0.0 ssl", "-a.b", "a..b", "a_b", "[::1]", "0.0.0.0#", "*"])
    func badHosts(host: String) {
        #expect(SettingRule.hostProblem(host) != nil)
    }

    @Test(arguments: [".wsscale", "/var/lib/wsscale", "/tmp/wsscale-1.2_x/state", "relative/dir"])
    func goodStateDirectories(path: String) {
        #expect(SettingRule.stateDirectoryProblem(path) == nil)
    }

    @Test(arguments: ["", "/tmp/a;b", "/tmp/a\tb", "/tmp/a b", "/tmp/a#b", "/tmp/\"a", "/tmp/'a", "/tmp/a\\b", "/tmp/$HOME",
                      "/tmp/a\nb", "/tmp/a\u{7f}", "/" + String(repeating: "d", count: 1024)])
    func badStateDirectories(path: String) {
        #expect(SettingRule.stateDirectoryProblem(path) != nil)
    }

    @Test func aRefusedValueIsReportedUnderItsVariableAndTheDefaultKept() {
        var reader = EnvironmentReader(environment: ["HAPROXY_BACKEND": "servers;x"])
        let value = reader.string("HAPROXY_BACKEND", default: "wsscale_servers", rule: SettingRule.haproxyNameProblem)
        #expect(value == "wsscale_servers")
        #expect(reader.issues.map(\.variable) == ["HAPROXY_BACKEND"])
        #expect(reader.issues.first?.message.contains("letters, digits") == true)
    }

    @Test func aMessageShowsAControlCharacterEscaped() {
        let message = SettingRule.stateDirectoryProblem("/tmp/a\nb") ?? ""
        #expect(!message.contains("\n"))
    }
}
