#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleBackends
import WSScaleCore

/// The secrets of a container deployment, made once by a one-shot `wsscale secrets` before
/// anything else starts (compose's `secrets` service), in a state folder on the host that
/// compose bind-mounts folder by folder, each into the containers that need it. The state
/// folder is 0700 (no other user of the host can enter it); each folder in it is 0700 and each
/// file 0600, owned by the user the containers run as:
///
/// | path in the state folder | holds | mounted by |
/// |---|---|---|
/// | `admin/admin-token` | the admin token (`WSSCALE_ADMIN_TOKEN` when given, else kept, else new) | balancer, client simulator, dashboard |
/// | `redis/users.acl` | the Redis users (`RedisACL`; kept when it is for this prefix) | redis-server |
/// | `balancer/redis-url` | the balancer's Redis URL, password included (it makes each server's user) | balancer (`REDIS_URL_FILE`) |
/// | `haproxy-admin/` | HAProxy's runtime API socket (HAProxy makes it) | HAProxy, balancer |
///
/// Bind mounts, not named volumes: compose's plain `down` leaves no volume of the project,
/// while the token and the Redis users survive a `down` and the next `up` (remove the state
/// folder to forget them).
public struct DeploymentSecrets: Sendable {
    /// The state folder.
    public var stateDirectory: String
    /// Host name of Redis as the balancer and the servers reach it.
    public var redisHost: String
    /// Redis's port.
    public var redisPort: Int
    /// The pool's key prefix (`REDIS_KEY_PREFIX`).
    public var keyPrefix: String
    /// Owner of every folder in the state folder and every file (`uid`, `gid`), `nil` to keep the writer's.
    public var owner: (uid: uid_t, gid: gid_t)?

    /// The folder of the admin token.
    public var adminDirectory: String { stateDirectory + "/admin" }
    /// The Redis container's folder.
    public var redisDirectory: String { stateDirectory + "/redis" }
    /// The balancer's folder.
    public var balancerDirectory: String { stateDirectory + "/balancer" }
    /// The folder of HAProxy's runtime API socket.
    public var haproxyAdminDirectory: String { stateDirectory + "/haproxy-admin" }

    /// Describes the secrets to make.
    public init(stateDirectory: String, redisHost: String, redisPort: Int = 6379, keyPrefix: String,
                owner: (uid: uid_t, gid: gid_t)?) {
        self.stateDirectory = stateDirectory
        self.redisHost = redisHost
        self.redisPort = redisPort
        self.keyPrefix = keyPrefix
        self.owner = owner
    }

    /// Makes (or keeps) every file. A given token replaces the stored one.
    /// - Returns: one line per file, saying whether it was made or kept (never a secret).
    public func ensure(givenToken: AdminToken?) throws -> [String] {
        try prepareFolders()
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

    /// Makes the state folder 0700 (keeping its owner: root's, or a rootless user's) and each
    /// folder in it 0700, owned by `owner`; folders that exist (compose may have made them
    /// first, 0755) are brought to those modes.
    private func prepareFolders() throws {
        try folder(stateDirectory, owner: nil)
        for path in [adminDirectory, redisDirectory, balancerDirectory, haproxyAdminDirectory] {
            try folder(path, owner: owner)
        }
    }

    private func folder(_ path: String, owner: (uid: uid_t, gid: gid_t)?) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PrivateFile.WriteError(description: "cannot make \(path): \(String(cString: strerror(errno)))")
        }
        guard chmod(path, 0o700) == 0 else {
            throw PrivateFile.WriteError(description: "cannot chmod \(path): \(String(cString: strerror(errno)))")
        }
        if let owner, chown(path, owner.uid, owner.gid) != 0 {
            throw PrivateFile.WriteError(description: "cannot chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func write(_ text: String, to path: String) throws {
        try PrivateFile.write(text, to: path)
        if let owner, chown(path, owner.uid, owner.gid) != 0 {
            throw PrivateFile.WriteError(description: "cannot chown \(path): \(String(cString: strerror(errno)))")
        }
    }
}
