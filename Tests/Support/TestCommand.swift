import Foundation
import WSScaleBackends
#if canImport(Glibc)
import Glibc
#endif

/// Runs the machine's commands for tests (setup scripts, container CLIs) and announces
/// skipped test groups.
public enum TestCommand {
    /// Runs a program to its end.
    ///
    /// Decision: the product's `LocalProcess` (posix_spawn, no inherited descriptors, output to
    /// a file), not Foundation's `Process`: Foundation learns that a child ended when a socket the
    /// child inherited closes, so a daemon the child starts (`setup-docker.sh` starting dockerd,
    /// `setup-podman.sh` starting the podman service) keeps `waitUntilExit` waiting forever.
    /// Here the exit is `waitpid`, whatever the child left.
    /// - Parameters:
    ///   - executable: an absolute path, or a name looked up in `PATH`.
    ///   - arguments: its arguments.
    ///   - environment: extra environment variables.
    ///   - directory: its working directory (the test's own when `nil`).
    /// - Returns: its exit status (128 + the signal when one ended it) and its standard
    ///   output and error, together.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: URL? = nil) -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "wsscale-run-\(UUID().uuidString).log"
        defer { unlink(outputPath) }
        var command = [executable] + arguments
        if let directory {
            command = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory.path] + command
        }
        let child: LocalProcess
        do {
            child = try LocalProcess.spawn(
                executable: command[0], arguments: Array(command.dropFirst()),
                environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                outputPath: outputPath)
        } catch {
            return (127, "cannot run \(executable): \(error)")
        }
        var ended = child.exitStatusIfEnded()
        while ended == nil {
            usleep(20_000)
            ended = child.exitStatusIfEnded()
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        switch ended {
        case .exited(let code): return (code, output)
        case .signaled(let signal): return (128 + signal, output)
        case .unknown, nil: return (-1, output)
        }
    }

    /// Runs a program to its end on a thread of its own, so that a long command (`compose up`)
    /// does not hold one of the few threads async tests share.
    public static func runDetached(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   directory: URL? = nil) async -> (status: Int32, output: String) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: run(executable, arguments, environment: environment, directory: directory))
            }
        }
    }

    /// Prints the one line that says a group of tests is skipped, and why.
    /// - Returns: the reason, for the group's `unavailableReason`.
    @discardableResult
    public static func announceSkip(_ group: String, _ reason: String) -> String {
        FileHandle.standardError.write(Data("SKIPPING the \(group) tests: \(reason)\n".utf8))
        return reason
    }
}

/// A container engine's CLI (`docker`, `podman`), as the tests use it.
public struct ContainerCLI: Sendable {
    /// The program (`docker`, `podman`).
    public var program: String
    /// `CONTAINER_ENGINE` for the repository's image scripts.
    public var engine: String
    /// What runs before the program's own arguments: for another user's podman, `runuser`
    /// and its arguments (then `program` is the first of them).
    public var leadingArguments: [String] = []

    /// The Docker CLI.
    public static let docker = ContainerCLI(program: "docker", engine: "docker")
    /// The Podman CLI.
    public static let podman = ContainerCLI(program: "podman", engine: "podman")

    /// Runs the CLI with these arguments.
    @discardableResult
    public func run(_ arguments: [String]) -> (status: Int32, output: String) {
        leadingArguments.isEmpty ? TestCommand.run(program, arguments)
            : TestCommand.run(leadingArguments[0], Array(leadingArguments.dropFirst()) + arguments)
    }

    /// The podman CLI of another user (rootless), run through `runuser` with that user's
    /// home and runtime folder.
    public static func podman(asUser user: String, home: String, runtimeDirectory: String) -> ContainerCLI {
        ContainerCLI(program: "podman", engine: "podman",
                     leadingArguments: ["/usr/sbin/runuser", "-u", user, "--", "/usr/bin/env", "HOME=\(home)",
                                        "XDG_RUNTIME_DIR=\(runtimeDirectory)", "podman"])
    }

    /// Removes every container labelled `wsscale.pool=<pool>` (test cleanup).
    public func removeContainers(ofPool pool: String) {
        let ids = containers(ofPool: pool)
        if !ids.isEmpty { run(["rm", "-f"] + ids) }
    }

    /// The ids of the containers labelled `wsscale.pool=<pool>`, whatever their state.
    public func containers(ofPool pool: String) -> [String] {
        run(["ps", "-aq", "--filter", "label=wsscale.pool=\(pool)"]).output
            .split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Builds the product image with `docker/build-image.sh` for this engine, its output in
    /// `log`, saying on standard error what it does and how long it took.
    /// - Returns: the script's status and, when it failed, the log's last lines.
    public func buildProductImage(_ image: String, log: String, testsName: String) -> (status: Int32, tail: String) {
        let root = DockerTestEnvironment.repositoryRoot.path
        FileHandle.standardError.write(Data("==> \(testsName) tests: docker/build-image.sh \(image) with \(program) (release build in .build-static; log: \(log))\n".utf8))
        let clock = ContinuousClock()
        let start = clock.now
        let build = TestCommand.run("/bin/sh", ["-c", "\"$0/docker/build-image.sh\" \(image) >\(log) 2>&1", root],
                                    environment: ["CONTAINER_ENGINE": engine])
        if build.status == 0 {
            FileHandle.standardError.write(Data("==> \(testsName) tests run \(image) (image ready after \(clock.now - start))\n".utf8))
            return (0, "")
        }
        let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
        return (build.status, tail)
    }
}
