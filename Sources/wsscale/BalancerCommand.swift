import ArgumentParser

/// `wsscale balancer` (filled in by its issue).
struct BalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "balancer", abstract: "Not available yet.")

    func run() async throws {
        throw ValidationError("wsscale balancer is not available in this build yet")
    }
}
