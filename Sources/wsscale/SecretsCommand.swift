import ArgumentParser
import Foundation
import WSScaleBalancer
import WSScaleCore

/// `wsscale secrets`: makes a container deployment's secrets once, before anything starts
/// (compose runs it as the one-shot service `secrets`); see `DeploymentSecrets`.
struct SecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Make (or keep) the admin token, the balancer's Redis user and its Redis URL in a state folder, each file 0600.",
        discussion: """
        Environment: WSSCALE_ADMIN_TOKEN (replaces the stored token when set), REDIS_KEY_PREFIX. \
        Prints which files it made or kept, never their content.
        """
    )

    @Option(help: "The state folder (made 0700): admin/admin-token, redis/users.acl, balancer/redis-url, haproxy-admin/.")
    var stateDir: String

    @Option(help: "Host name of Redis, as the balancer and the servers reach it.")
    var redisHost: String = "redis"

    @Option(help: "Owner of the files, uid:gid (the user the containers run as).")
    var owner: String?

    func run() throws {
        var reader = try CommandEnvironment.reader(command: "secrets")
        let token = AdminToken.read(from: &reader)
        let prefix = reader.string("REDIS_KEY_PREFIX", default: "wsscale", rule: SettingRule.redisKeyPrefixProblem)
        var ownerIDs: (uid: uid_t, gid: gid_t)?
        if let owner {
            let parts = owner.split(separator: ":")
            guard parts.count == 2, let uid = uid_t(parts[0]), let gid = gid_t(parts[1]) else {
                throw ValidationError("--owner must be uid:gid in numbers, got \"\(owner)\"")
            }
            ownerIDs = (uid, gid)
        }
        try CommandEnvironment.finish(reader, command: "secrets")
        let secrets = DeploymentSecrets(stateDirectory: stateDir, redisHost: redisHost, keyPrefix: prefix, owner: ownerIDs)
        do {
            for line in try secrets.ensure(givenToken: token) { print(line) }
        } catch {
            CommandEnvironment.printError("wsscale secrets: \(error)")
            throw ExitCode(1)
        }
    }
}
