import Foundation
import Testing
import WSScaleBackends
@testable import WSScaleBalancer
import WSScaleCore

/// `wsscale secrets`' files (real files in a temporary folder).
@Suite struct DeploymentSecretsTests {
    /// A state folder as compose leaves it before `secrets` runs: it and one bind-mount source
    /// made 0755 by the engine, the others missing.
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "wsscale-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/admin", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("made once, 0600; kept by the next run; a given token replaces the stored one; the URLs log in as the ACL's users")
    func madeKeptReplaced() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secrets = DeploymentSecrets(stateDirectory: root, redisHost: "redis", keyPrefix: "pool", owner: nil)
        let first = try secrets.ensure(givenToken: nil)
        for folder in ["", "/admin", "/redis", "/balancer", "/haproxy-admin"] {
            #expect(Self.mode(root + folder) == 0o700, "\(root + folder) is 0700, also when compose made it 0755 first")
        }
        #expect(first.contains("\(root)/admin/admin-token: made") && first.contains("\(root)/redis/users.acl: made"))
        let files = ["admin/admin-token", "redis/users.acl", "balancer/redis-url"]
        for file in files { #expect(Self.mode(root + "/" + file) == 0o600, "\(file)") }
        let token = try AdminToken.load(path: root + "/admin/admin-token").get()
        let acl = try #require(RedisACL.parse(String(contentsOfFile: root + "/redis/users.acl", encoding: .utf8), keyPrefix: "pool"))
        var reader = EnvironmentReader(environment: ["REDIS_URL_FILE": root + "/balancer/redis-url"])
        let settings = BalancerSettings.read(from: &reader)
        #expect(reader.issues.isEmpty)
        #expect(settings.redisURL == acl.balancerURL(host: "redis", port: 6379))
        #expect(settings.serverRedisURL == nil, "the servers' users are the balancer's to make")

        let second = try secrets.ensure(givenToken: nil)
        #expect(second.contains("\(root)/admin/admin-token: kept") && second.contains("\(root)/redis/users.acl: kept"))
        #expect(try AdminToken.load(path: root + "/admin/admin-token").get() == token)
        #expect(RedisACL.parse(try String(contentsOfFile: root + "/redis/users.acl", encoding: .utf8), keyPrefix: "pool") == acl)

        let given = AdminToken("operator-chosen-token-0001")!
        _ = try secrets.ensure(givenToken: given)
        #expect(try AdminToken.load(path: root + "/admin/admin-token").get() == given)
        #expect(!first.joined().contains(token.value) && !first.joined().contains(acl.balancerPassword), "the report shows no secret")
    }

    @Test("REDIS_URL_FILE: both set, a world-readable file or a missing one is refused, naming the variable")
    func secretFileRules() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/balancer/redis-url"
        try FileManager.default.createDirectory(atPath: root + "/balancer", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: Data("redis://a:b@h:1/0\n".utf8), attributes: [.posixPermissions: 0o644]))
        for environment in [["REDIS_URL_FILE": path], ["REDIS_URL_FILE": path + ".missing"],
                            ["REDIS_URL_FILE": path, "REDIS_URL": "redis://x:1"]] {
            var reader = EnvironmentReader(environment: environment)
            _ = BalancerSettings.read(from: &reader)
            #expect(reader.issues.map(\.variable) == ["REDIS_URL_FILE"], "\(environment): \(reader.issues)")
            #expect(!reader.issues.description.contains("redis://a:b"), "the file's content is never shown")
        }
    }
}
