import ArgumentParser

/// `wsscale up` (filled in by its issue).
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Not available yet.")

    func run() async throws {
        throw ValidationError("wsscale up is not available in this build yet")
    }
}
