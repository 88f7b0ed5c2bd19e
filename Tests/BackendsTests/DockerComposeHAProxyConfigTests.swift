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

    /// The swarm stack's HAProxy (`docker/stack.yml`, a global service): the compose one, plus
    /// the runtime API relayed on 9999 for the balancer on another node, taken only from the
    /// control network (`HAPROXY_RUNTIME_API_SOURCES`, the stack's control subnet); the
    /// servers share the traffic network with HAProxy and are refused.
    static let stackConfiguration: HAProxyConfiguration = {
        var configuration = composeConfiguration
        configuration.runtimeRelay = HAProxyRuntimeRelay(bind: "*:9999", allowedSources: "${HAPROXY_RUNTIME_API_SOURCES}")
        return configuration
    }()

    /// Each committed file and the configuration it must be.
    static let committed: [(path: String, configuration: HAProxyConfiguration)] = [
        (DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/haproxy/haproxy.cfg").path, composeConfiguration),
        (DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/haproxy/haproxy-stack.cfg").path, stackConfiguration),
    ]

    @Test func committedFilesAreWhatHAProxyConfigurationRenders() throws {
        for (path, configuration) in Self.committed {
            try configuration.validate()
            let rendered = configuration.render()
            if ProcessInfo.processInfo.environment["WSSCALE_WRITE_COMPOSE_HAPROXY_CFG"] == "1" {
                try rendered.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let committed = try String(contentsOfFile: path, encoding: .utf8)
            #expect(committed == rendered, "\(path) differs from HAProxyConfiguration.render(); rewrite it (see this suite's comment)")
        }
    }

    @Test func haproxyAcceptsTheCommittedFiles() throws {
        for (path, _) in Self.committed {
            let check = TestCommand.run("/usr/bin/env", ["HAPROXY_RUNTIME_API_SOURCES=10.231.0.0/24", "haproxy", "-c", "-f", path])
            #expect(check.status == 0, "haproxy -c \(path): \(check.output)")
        }
    }

    @Test func theRelayNeedsItsSources() throws {
        let path = Self.committed[1].path
        let check = TestCommand.run("/usr/bin/env", ["-u", "HAPROXY_RUNTIME_API_SOURCES", "haproxy", "-c", "-f", path])
        #expect(check.status != 0, "haproxy -c without HAPROXY_RUNTIME_API_SOURCES must refuse the relay: \(check.output)")
    }
}
