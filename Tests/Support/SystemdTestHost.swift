#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleBackends

/// A systemd to test the systemd backend against: systemd booted as PID 1 in a privileged
/// podman container (`localhost/wsscale-systemd:bookworm`, made by `systemd/image.sh`), with
/// host networking (the servers' loopback ports are the tests' own), its system bus socket and
/// `/run/wsscale` bind-mounted from a folder of this machine, and the `wsscale` binary the
/// tests built mounted at `/usr/bin/wsscale`.
///
/// Booted once per test process and shared by every systemd suite; it is named after the
/// worktree (`wsscale-systemd-test-<hash>`), so the next run removes a leftover by that name,
/// and it is removed when the test process exits. Readiness is waited on (`systemctl
/// is-system-running`, the bus socket), never slept for.
///
/// Installed templates: the repository's `wsscale-server@.service`, `wsscale-stubborn@.service`
/// (the same with `KillSignal=SIGWINCH`, which the server ignores, and a 60 s
/// `TimeoutStopSec` backstop) and `wsscale-missing@.service` (its binary does not exist).
///
/// When podman, the image or the binary cannot work, `unavailableReason` says why, printed once
/// on a line starting `SKIPPING the systemd tests:`. `WSSCALE_SYSTEMD_TEST_IMAGE` names the image
/// (`scripts/test.sh` makes it ready); without it the image is made by `systemd/image.sh`.
public enum SystemdTestHost {
    /// The container's name.
    public static let name = "wsscale-systemd-test-\(String(stableHash(DockerTestEnvironment.repositoryRoot.path), radix: 36))"
    /// The folder holding `bus/` (the container's `/run/dbus`) and `env/` (its `/run/wsscale`).
    public static let directory = "/tmp/\(name)"
    /// The environment files' folder, as this machine sees it.
    public static var environmentDirectory: String { "\(directory)/env" }
    /// The container's system bus, as this machine reaches it.
    public static var busAddress: String { "unix:path=\(directory)/bus/system_bus_socket" }
    /// The template the servers run from.
    public static let serverTemplate = "wsscale-server@"
    /// A template whose server ignores SIGTERM (`KillSignal=SIGWINCH`), with a 60 s backstop.
    public static let stubbornTemplate = "wsscale-stubborn@"
    /// The stubborn template's `TimeoutStopSec`.
    public static let stubbornBackstop: Duration = .seconds(60)
    /// A template whose binary is missing.
    public static let missingBinaryTemplate = "wsscale-missing@"

    static let preparation: String? = prepare()

    /// `nil` when the container runs; otherwise why the systemd tests are skipped.
    public static var unavailableReason: String? { preparation }
    /// Whether the systemd tests can run.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// Runs a command inside the container, on a thread of its own (never blocking the few
    /// threads async tests share: the driver's timing is what the tests measure).
    @discardableResult
    public static func exec(_ arguments: String...) async -> (status: Int32, output: String) {
        await TestCommand.runDetached("podman", ["exec", name] + arguments)
    }

    private static func execBlocking(_ arguments: String...) -> (status: Int32, output: String) {
        TestCommand.run("podman", ["exec", name] + arguments)
    }

    /// The pool's units that systemd lists as failed.
    public static func failedUnits(prefix: String = serverTemplate, pool: String) async -> [String] {
        await exec("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--all", "\(prefix)\(pool):*")
            .output.split(whereSeparator: \.isNewline).map { String($0.split(separator: " ").first ?? "") }
            .filter { !$0.isEmpty }
    }

    /// The pool's loaded units, whatever their state.
    public static func loadedUnits(prefix: String = serverTemplate, pool: String) async -> [String] {
        await exec("systemctl", "list-units", "--plain", "--no-legend", "--all", "\(prefix)\(pool):*")
            .output.split(whereSeparator: \.isNewline).map { String($0.split(separator: " ").first ?? "") }
            .filter { !$0.isEmpty }
    }

    /// The main pid of a unit inside the container, or `nil` when it has none.
    public static func mainPID(_ unit: String) async -> Int? {
        Int(await exec("systemctl", "show", "-p", "MainPID", "--value", unit).output
            .trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Stops and resets every unit of a pool and removes its environment files (test cleanup).
    public static func removeUnits(ofPool pool: String) async {
        let units = [serverTemplate, stubbornTemplate, missingBinaryTemplate].map { "\($0)\(pool):*" }
        await exec("sh", "-c", "systemctl kill --signal=SIGKILL \"$@\"; systemctl stop \"$@\"; systemctl reset-failed \"$@\"; true",
                   "sh", units[0], units[1], units[2])
        let files = (try? FileManager.default.contentsOfDirectory(atPath: environmentDirectory)) ?? []
        for file in files where file.hasPrefix("\(pool):") {
            unlink("\(environmentDirectory)/\(file)")
        }
    }

    // MARK: - Boot

    private static func prepare() -> String? {
        let root = DockerTestEnvironment.repositoryRoot.path
        func skip(_ reason: String) -> String { TestCommand.announceSkip("systemd", reason) }
        let setup = TestCommand.run("\(root)/scripts/setup-podman.sh", [])
        guard setup.status == 0 else {
            return skip("podman cannot work: \(setup.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        var image = "localhost/wsscale-systemd:bookworm"
        if let named = ProcessInfo.processInfo.environment["WSSCALE_SYSTEMD_TEST_IMAGE"], !named.isEmpty {
            image = named
        } else if TestCommand.run("podman", ["image", "exists", image]).status != 0 {
            let made = TestCommand.run("\(root)/systemd/image.sh", [])
            guard made.status == 0 else {
                return skip("systemd/image.sh could not make \(image): \(made.output.suffix(800))")
            }
        }
        guard TestCommand.run("podman", ["image", "exists", image]).status == 0 else {
            return skip("the image \(image) does not exist (systemd/image.sh makes it)")
        }
        let binary = ContainerBackendStack.hostBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            return skip("no wsscale binary at \(binary) (swift build first)")
        }
        TestCommand.run("podman", ["rm", "-f", "-t", "0", name])
        TestCommand.run("/bin/rm", ["-rf", directory])
        for folder in [directory, "\(directory)/bus", environmentDirectory] {
            mkdir(folder, 0o700)
        }
        var arguments = ["run", "-d", "--runtime", "runc", "--name", name, "--privileged", "--systemd=always",
                         "--network", "host", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                         "-v", "\(directory)/bus:/run/dbus", "-v", "\(environmentDirectory):/run/wsscale",
                         "-v", "\(binary):/usr/bin/wsscale:ro"]
        if binary.hasSuffix("/debug/wsscale"), FileManager.default.fileExists(atPath: "/opt/swift") {
            arguments += ["-v", "/opt/swift:/opt/swift:ro"] // the debug build links the toolchain's runtime
        }
        arguments += [image, "/lib/systemd/systemd", "systemd.mask=redis-server.service", "systemd.mask=haproxy.service"]
        let started = TestCommand.run("podman", arguments)
        guard started.status == 0 else {
            return skip("podman run of \(image) failed: \(started.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        atexit {
            _ = TestCommand.run("podman", ["rm", "-f", "-t", "0", SystemdTestHost.name])
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(60))
        var state = ""
        while clock.now < deadline {
            state = execBlocking("systemctl", "is-system-running").output.trimmingCharacters(in: .whitespacesAndNewlines)
            if (state == "running" || state == "degraded"),
               FileManager.default.fileExists(atPath: "\(directory)/bus/system_bus_socket") { break }
            usleep(100_000)
        }
        guard state == "running" || state == "degraded" else {
            let journal = execBlocking("journalctl", "-b", "--no-pager", "-n", "30").output
            return skip("systemd in \(name) did not come up within 60 s (is-system-running: \(state)):\n\(journal)")
        }
        if let problem = installUnits(root: root) { return skip(problem) }
        FileHandle.standardError.write(Data("==> systemd tests: \(name) runs systemd (\(state)); bus \(busAddress)\n".utf8))
        return nil
    }

    private static func installUnits(root: String) -> String? {
        guard let server = try? String(contentsOfFile: "\(root)/systemd/wsscale-server@.service", encoding: .utf8) else {
            return "cannot read systemd/wsscale-server@.service"
        }
        let stubborn = server.replacingOccurrences(of: "KillSignal=SIGTERM", with: "KillSignal=SIGWINCH")
            .replacingOccurrences(of: "TimeoutStopSec=15", with: "TimeoutStopSec=\(stubbornBackstop.components.seconds)")
        let missing = server.replacingOccurrences(of: "ExecStart=/usr/bin/wsscale server",
                                                  with: "ExecStart=/usr/bin/wsscale-missing server")
        guard stubborn.contains("KillSignal=SIGWINCH"), stubborn.contains("TimeoutStopSec=\(stubbornBackstop.components.seconds)"),
              missing.contains("wsscale-missing") else {
            return "systemd/wsscale-server@.service no longer has the lines the test variants change"
        }
        let folder = "\(directory)/units"
        mkdir(folder, 0o700)
        for (file, text) in [("wsscale-server@.service", server), ("wsscale-stubborn@.service", stubborn),
                             ("wsscale-missing@.service", missing)] {
            let path = "\(folder)/\(file)"
            guard (try? text.write(toFile: path, atomically: true, encoding: .utf8)) != nil else { return "cannot write \(path)" }
            let copied = TestCommand.run("podman", ["cp", path, "\(name):/etc/systemd/system/\(file)"])
            guard copied.status == 0 else { return "podman cp \(file) failed: \(copied.output)" }
        }
        let reload = execBlocking("systemctl", "daemon-reload")
        guard reload.status == 0 else { return "systemctl daemon-reload failed: \(reload.output)" }
        return nil
    }

    private static func stableHash(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
