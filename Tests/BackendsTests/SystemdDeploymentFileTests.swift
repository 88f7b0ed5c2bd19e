import Foundation
import Testing
@testable import WSScaleBackends
import WSScaleTestSupport

/// The files of `systemd/` that repeat what the code renders, checked against it (pure: no
/// systemd needed), so the deployment cannot drift from the product.
@Suite struct SystemdDeploymentFileTests {
    static func committed(_ path: String) throws -> String {
        try String(contentsOf: DockerTestEnvironment.repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("redis-users.acl.in is RedisACL's file for the prefix wsscale, passwords left as placeholders")
    func redisUsersTemplate() throws {
        let template = try Self.committed("systemd/etc/redis-users.acl.in")
        let rendered = RedisACL(keyPrefix: "wsscale", balancerPassword: "@BALANCER_PASSWORD@").fileText()
        #expect(template == rendered, "systemd/etc/redis-users.acl.in differs from RedisACL.fileText()")
        // What postinst makes of it is read back as RedisACL's own file.
        let made = template.replacingOccurrences(of: "@BALANCER_PASSWORD@", with: String(repeating: "a", count: 64))
        #expect(RedisACL.parse(made, keyPrefix: "wsscale") != nil)
    }

    @Test("the installed haproxy.cfg and compose's carry the traffic-only rules and the per-address limits HAProxyConfiguration renders")
    func trafficOnlyRules() throws {
        for path in ["systemd/etc/haproxy.cfg", "docker/haproxy/haproxy.cfg"] {
            let lines = Set(try Self.committed(path).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
            for rule in HAProxyConfiguration.trafficOnlyRules {
                #expect(lines.contains(rule), "\(path) lacks: \(rule)")
            }
            for rule in HAProxySourceLimits(fromEnvironment: true).frontendLines {
                #expect(lines.contains(rule), "\(path) lacks: \(rule)")
            }
        }
    }
}
