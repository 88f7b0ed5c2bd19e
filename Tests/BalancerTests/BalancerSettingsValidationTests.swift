import Testing
import WSScaleBalancer
import WSScaleCore
import WSScaleLocalStack

/// The balancer's and `up`'s settings that reach Redis keys and HAProxy's commands and
/// configuration are refused at reading (exit status 2 naming the variable), not trapped on
/// or passed on.
@Suite struct BalancerSettingsValidationTests {
    static let refused: [(variable: String, value: String)] = [
        ("REDIS_KEY_PREFIX", "my pool"),          // trapped in RedisKeySchema's precondition
        ("REDIS_KEY_PREFIX", "po\tol"),          // surrounding whitespace is trimmed by every read; an inner tab is not
        ("HAPROXY_BACKEND", "wsscale_servers;shutdown sessions server wsscale_servers/ws-1"),
        ("HAPROXY_BACKEND", "wsscale_servers\tx"),
        ("HAPROXY_BACKEND", "a#b"),
        ("WSSCALE_STATE_DIR", "/tmp/x;y"),
        ("WSSCALE_STATE_DIR", "/tmp/x\ty"),
        ("WSSCALE_STATE_DIR", "/tmp/x#y"),
        ("WSSCALE_STATE_DIR", "/tmp/\"x"),
        ("WSSCALE_POOL", "a/../b"),
        ("WSSCALE_POOL", ".."),
        ("BALANCER_ID", "b1\tx"),                 // a tab would cut the lease's record
        ("BALANCER_ID", "b1/x"),                   // '/' separates the id from the run's suffix
        ("BALANCER_ID", String(repeating: "b", count: 65)),
        ("LEADER_LEASE_SECONDS", "0.5"),
        ("LEADER_LEASE_SECONDS", "301"),
        ("HAPROXY_RUNTIME_API", "unix:///run/a.sock,unix:///run/a.sock"),   // one HAProxy twice
        ("HAPROXY_RUNTIME_API", "unix:///run/a.sock,tcp://10.0.0.2"),       // the second has no port
        ("HAPROXY_RUNTIME_API", "unix:///run/a.sock,"),
        ("APP_UPSTREAM_URL", "http://127.0.0.1:9000/"),  // the servers would refuse it at every launch
        ("APP_HEALTH_CHECK", "health"),
        ("WSSCALE_APP_ENV", "CHAT_URL,REDIS_URL"),      // the server's own registry address
        ("WSSCALE_APP_ENV", "A=B"),
    ]

    @Test("the app's settings and the variables WSSCALE_APP_ENV names reach every server; the rest of the environment does not")
    func appEnvironmentReachesTheServers() throws {
        let settings = try BalancerSettings.read(environment: [
            "WSSCALE_APP_COMMAND": "python3 chat.py", "APP_UPSTREAM_URL": "ws://127.0.0.1:{port}/ws/{userId}",
            "APP_HEALTH_CHECK": "/health", "WSSCALE_APP_ENV": "CHAT_REDIS_URL, CHAT_CHANNEL", "CHAT_REDIS_URL": "redis://r:6379/1",
            "UNRELATED": "x",
        ])
        let environment = settings.serverEnvironment(scaling: ScalingConfiguration())
        #expect(environment["WSSCALE_APP_COMMAND"] == "python3 chat.py")
        #expect(environment["APP_UPSTREAM_URL"] == "ws://127.0.0.1:{port}/ws/{userId}")
        #expect(environment["APP_HEALTH_CHECK"] == "/health")
        #expect(environment["CHAT_REDIS_URL"] == "redis://r:6379/1")
        #expect(environment["CHAT_CHANNEL"] == nil, "not set, so not passed")
        #expect(environment["UNRELATED"] == nil)
    }

    @Test("an app command without APP_UPSTREAM_URL stops the balancer, naming APP_UPSTREAM_URL")
    func appCommandWithoutUpstream() {
        var reader = EnvironmentReader(environment: ["WSSCALE_APP_COMMAND": "python3 chat.py"])
        _ = BalancerSettings.read(from: &reader)
        #expect(reader.issues.map(\.variable) == ["APP_UPSTREAM_URL"])
    }

    @Test(arguments: refused)
    func anInjectingValueIsRefusedUnderItsVariable(variable: String, value: String) {
        var reader = EnvironmentReader(environment: [variable: value])
        _ = BalancerSettings.read(from: &reader)
        #expect(reader.issues.map(\.variable) == [variable], "\(reader.issues)")
    }

    @Test(arguments: ["0.0.0.0;x", "0.0.0.0\tssl", "0.0.0.0 crt /etc/x", "127.0.0.1#", "lb_host"])
    func anInjectingLBHostIsRefused(value: String) {
        var reader = EnvironmentReader(environment: ["LB_HOST": value])
        _ = LocalStackSettings.read(from: &reader)
        #expect(reader.issues.map(\.variable) == ["LB_HOST"], "\(reader.issues)")
    }

    @Test func ordinaryValuesAreAccepted() {
        var reader = EnvironmentReader(environment: [
            "REDIS_KEY_PREFIX": "pool-a:1", "HAPROXY_BACKEND": "be.1", "WSSCALE_STATE_DIR": "/tmp/wsscale-state/x",
            "WSSCALE_POOL": "blue_1", "LB_HOST": "127.0.0.1", "BALANCER_ID": "eu-1.balancer-b@rack2",
            "LEADER_LEASE_SECONDS": "3", "HAPROXY_RUNTIME_API": "unix:///run/a.sock, tcp://127.0.0.1:9999",
        ])
        let settings = BalancerSettings.read(from: &reader)
        let stack = LocalStackSettings.read(from: &reader)
        #expect(reader.issues.isEmpty, "\(reader.issues)")
        #expect(settings.keyPrefix == "pool-a:1")
        #expect(settings.haproxyBackend == "be.1")
        #expect(stack.lbHost == "127.0.0.1")
        #expect(settings.balancerID == "eu-1.balancer-b@rack2" && settings.leaderLease == .seconds(3))
        #expect(settings.haproxyRuntimes == [.unixSocket(path: "/run/a.sock"), .tcp(host: "127.0.0.1", port: 9999)])
        #expect(SettingRule.balancerIDProblem(BalancerSettings.defaultBalancerID) == nil, "the host name's default is valid")
    }
}
