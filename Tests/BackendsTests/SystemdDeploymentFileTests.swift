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

    @Test("postinst hands the secrets it makes to shell builtins only, never to another program's argv, and makes redis-users.acl as the template says")
    func postinstKeepsSecretsOffCommandLines() throws {
        let script = try Self.committed("systemd/debian/postinst")
        #expect(script.hasPrefix("#!/bin/sh\n"), "the lines below are run by /bin/sh, as dpkg runs postinst")
        // Logical lines: continuations joined, comments dropped.
        let lines = script.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        // Every command that expands the password is printf, a builtin of /bin/sh: the
        // password is on no program's argv, where /proc shows it to every local user.
        let uses = lines.filter { $0.contains("$balancer_password") }
        for line in uses { print("postinst: the Redis password goes to: \(line.prefix(60))…") }
        #expect(uses.count == 2, "the ACL file and the URL file: \(uses)")
        #expect(uses.allSatisfy { $0.hasPrefix("printf ") }, "\(uses)")
        let token = lines.filter { $0.contains("WSSCALE_ADMIN_TOKEN=") }
        #expect(token.count == 1 && token[0].contains("printf 'WSSCALE_ADMIN_TOKEN=%s\\n' \"$(od "), "the token is made by od and written by printf: \(token)")

        // postinst's own two lines, run by /bin/sh on the committed template, make the file
        // the sed it replaced made: the placeholder (once) replaced, the one final newline kept.
        let template = try Self.committed("systemd/etc/redis-users.acl.in")
        #expect(template.components(separatedBy: "@BALANCER_PASSWORD@").count == 2, "the placeholder, once")
        #expect(template.hasSuffix("\n") && !template.hasSuffix("\n\n"), "one final newline")
        let reading = try #require(lines.first { $0.hasPrefix("template=") })
        let writing = try #require(lines.first { $0.hasSuffix("> /etc/wsscale/redis-users.acl") })
        let output = NSTemporaryDirectory() + "wsscale-postinst-\(UUID().uuidString).acl"
        defer { unlink(output) }
        let password = String(repeating: "ab", count: 32)
        let run = TestCommand.run("/bin/sh", ["-c", [
            reading.replacingOccurrences(of: "/usr/share/wsscale/redis-users.acl.in", with: "\"$TEMPLATE\""),
            writing.replacingOccurrences(of: "/etc/wsscale/redis-users.acl", with: "\"$OUTPUT\""),
        ].joined(separator: "\n")], environment: [
            "TEMPLATE": DockerTestEnvironment.repositoryRoot.appendingPathComponent("systemd/etc/redis-users.acl.in").path,
            "OUTPUT": output, "balancer_password": password,
        ])
        #expect(run.status == 0, "\(run.output)")
        let made = try String(contentsOfFile: output, encoding: .utf8)
        #expect(made == template.replacingOccurrences(of: "@BALANCER_PASSWORD@", with: password))
        print("postinst: redis-users.acl from the template: \(made.utf8.count) bytes, as expected: \(made == template.replacingOccurrences(of: "@BALANCER_PASSWORD@", with: password))")
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
