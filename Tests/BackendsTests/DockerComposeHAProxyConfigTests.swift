import Foundation
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// `docker/haproxy/haproxy.cfg` (the compose stack's HAProxy) is what `HAProxyConfiguration`
/// renders for the compose parameters, so the balancer's runtime commands fit it.
///
/// After a change to `HAProxyConfiguration`, rewrite the file with
/// `WSSCALE_WRITE_COMPOSE_HAPROXY_CFG=1 swift test --skip-build --filter DockerComposeHAProxyConfigTests`.
@Suite struct DockerComposeHAProxyConfigTests {
    /// The compose stack's HAProxy: traffic on 8000, stats on 8404, the runtime API only on a
    /// unix socket in the state folder's `haproxy-admin/` (a bind mount), owned by the balancer's user (65534): the
    /// balancer is the only other service that mounts it, so no server, nor anything else on
    /// a network, reaches the runtime API. Servers in `wsscale_servers`.
    static let composeConfiguration = HAProxyConfiguration(
        runtimeSocketPath: "/run/haproxy-admin/haproxy.sock", runtimeSocketOwner: 65534, trafficBind: "*:8000", statsBind: "*:8404",
        backendName: "wsscale_servers", sourceLimits: HAProxySourceLimits(fromEnvironment: true))

    static let committedPath = DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/haproxy/haproxy.cfg").path

    @Test func committedFileIsWhatHAProxyConfigurationRenders() throws {
        try Self.composeConfiguration.validate()
        let rendered = Self.composeConfiguration.render()
        if ProcessInfo.processInfo.environment["WSSCALE_WRITE_COMPOSE_HAPROXY_CFG"] == "1" {
            try rendered.write(toFile: Self.committedPath, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOfFile: Self.committedPath, encoding: .utf8)
        #expect(committed == rendered, "docker/haproxy/haproxy.cfg differs from HAProxyConfiguration.render(); rewrite it (see this suite's comment)")
    }

    @Test func haproxyAcceptsTheCommittedFile() throws {
        let check = DockerTestEnvironment.run("haproxy", ["-c", "-f", Self.committedPath])
        #expect(check.status == 0, "haproxy -c: \(check.output)")
    }
}
