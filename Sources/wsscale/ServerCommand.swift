import ArgumentParser

/// `wsscale server` (filled in by its issue).
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Not available yet.")

    func run() async throws {
        throw ValidationError("wsscale server is not available in this build yet")
    }
}
