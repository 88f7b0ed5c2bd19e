import ArgumentParser

/// The `wsscale` command: one binary for the server, the balancer, the client simulator,
/// the dashboard and the whole stack.
@main
struct WSScale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsscale",
        abstract: "Scale WebSocket servers horizontally by their number of persistent connections.",
        subcommands: [ServerCommand.self, BalancerCommand.self, ClientCommand.self, DashboardCommand.self,
                      UpCommand.self, SecretsCommand.self, EngineProxyCommand.self]
    )
}
