#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleBackends
import WSScaleCore

/// The secrets of a container deployment, made once by a one-shot `wsscale secrets` before
/// anything else starts (compose's `secrets` service), each in the folder of the containers
/// that need it, mode 0600, owned by the user those containers run as:
///
/// | file | holds | for |
/// |---|---|---|
/// | `<admin>/admin-token` | the admin token (`WSSCALE_ADMIN_TOKEN` when given, else kept, else new) | balancer, client simulator, dashboard |
/// | `<redis>/users.acl` | the Redis users (`RedisACL`; kept when it is for this prefix) | redis-server |
/// | `<balancer>/redis-url` | the balancer's Redis URL, password included (it makes each server's user) | balancer (`REDIS_URL_FILE`) |
public struct DeploymentSecrets: Sendable {
    /// The folders, and where the servers reach Redis.
    public var adminDirectory: String
    /// The Redis container's folder.
    public var redisDirectory: String
    /// The balancer's folder.
    public var balancerDirectory: String
    /// Host name of Redis as the balancer and the servers reach it.
    public var redisHost: String
    /// Redis's port.
    public var redisPort: Int
    /// The pool's key prefix (`REDIS_KEY_PREFIX`).
    public var keyPrefix: String
    /// Owner of every file (`uid`, `gid`), `nil` to keep the writer's.
    public var owner: (uid: uid_t, gid: gid_t)?

    /// Describes the secrets to make.
    public init(adminDirectory: String, redisDirectory: String, balancerDirectory: String, redisHost: String,
                redisPort: Int = 6379, keyPrefix: String, owner: (uid: uid_t, gid: gid_t)?) {
        self.adminDirectory = adminDirectory
        self.redisDirectory = redisDirectory
        self.balancerDirectory = balancerDirectory
        self.redisHost = redisHost
        self.redisPort = redisPort
        self.keyPrefix = keyPrefix
        self.owner = owner
    }

    /// Makes (or keeps) every file. A given token replaces the stored one.
    /// - Returns: one line per file, saying whether it was made or kept (never a secret).
    public func ensure(givenToken: AdminToken?) throws -> [String] {
        var report: [String] = []
        let tokenPath = adminDirectory + "/admin-token"
        let token: AdminToken
        if let givenToken {
            token = givenToken
            report.append("\(tokenPath): from WSSCALE_ADMIN_TOKEN")
        } else if case .success(let kept) = AdminToken.load(path: tokenPath) {
            token = kept
            report.append("\(tokenPath): kept")
        } else {
            token = AdminToken.generate()
            report.append("\(tokenPath): made")
        }
        try write(token.value + "\n", to: tokenPath)

        let aclPath = redisDirectory + "/users.acl"
        let acl: RedisACL
        if let text = try? String(contentsOfFile: aclPath, encoding: .utf8), let kept = RedisACL.parse(text, keyPrefix: keyPrefix) {
            acl = kept
            report.append("\(aclPath): kept")
        } else {
            acl = RedisACL.generate(keyPrefix: keyPrefix)
            report.append("\(aclPath): made")
        }
        try write(acl.fileText(), to: aclPath)
        try write(acl.balancerURL(host: redisHost, port: redisPort).connectionString + "\n", to: balancerDirectory + "/redis-url")
        report.append("\(balancerDirectory)/redis-url: written")
        return report
    }

    private func write(_ text: String, to path: String) throws {
        try PrivateFile.write(text, to: path)
        if let owner, chown(path, owner.uid, owner.gid) != 0 {
            throw PrivateFile.WriteError(description: "cannot chown \(path): \(String(cString: strerror(errno)))")
        }
    }
}
