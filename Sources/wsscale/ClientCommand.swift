import ArgumentParser

/// `wsscale client` (filled in by its issue).
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "client", abstract: "Not available yet.")

    func run() async throws {
        throw ValidationError("wsscale client is not available in this build yet")
    }
}
