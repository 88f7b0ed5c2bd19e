import Foundation
import WSScaleCore
#if canImport(Glibc)
import Glibc
#endif

/// The systemd deployment as the tests use it: one `systemd/try-in-container.sh up` per test
/// process (a privileged podman container booting systemd, the package installed with
/// `systemd/install.sh`, `wsscale.target` started), on free ports of 127.0.0.1, removed with
/// `down` when the test process exits.
///
/// Decision: one shared container, not one per test. Booting systemd and installing costs
/// seconds; the tests that change the deployment (the uninstall test) put it back as they found it.
///
/// - podman cannot work, or the image (`systemd/image.sh`) or the package (`systemd/build-deb.sh`)
///   cannot be made: every systemd stack test is skipped and the reason printed once, on a line
///   starting `SKIPPING the systemd stack tests:`.
/// - `try-in-container.sh up` fails although podman works: `failure` holds its output and the
///   tests fail with it.
/// - `WSSCALE_SYSTEMD_TEST_DEB=<file>` installs that package (as `scripts/test.sh` builds it)
///   instead of building one.
public final class SystemdContainerStack: Sendable {
    /// The image `systemd/image.sh` makes.
    public static let image = "localhost/wsscale-systemd:bookworm"
    /// The knobs of the seed's experiments (as the container stacks use them).
    public static let environment = ContainerBackendStack.seedEnvironment

    /// The container's name.
    public let name: String
    /// HAProxy's traffic port on 127.0.0.1.
    public let trafficPort: Int
    /// HAProxy's stats port on 127.0.0.1.
    public let statsPort: Int
    /// The balancer's API on 127.0.0.1.
    public let balancerPort: Int
    /// The client simulator's API on 127.0.0.1.
    public let clientPort: Int
    /// The dashboard on 127.0.0.1.
    public let dashboardPort: Int
    /// The package installed in the container (its path on this machine).
    public let package: String

    /// The result of preparing the shared stack: the stack, or why not.
    public enum Preparation: Sendable {
        /// It runs.
        case ready(SystemdContainerStack)
        /// The machine cannot run it (printed as `SKIPPING …`).
        case unavailable(String)
        /// It should have run and did not: the tests fail with this.
        case failed(String)
    }

    /// The shared stack, started on first use.
    public static let shared: Preparation = prepare()

    /// `nil` when the tests can run (or fail); otherwise why they are skipped.
    public static var unavailableReason: String? {
        if case .unavailable(let reason) = shared { return reason }
        return nil
    }

    /// The running stack; throws the failure when `up` failed.
    public static func running() throws -> SystemdContainerStack {
        switch shared {
        case .ready(let stack): return stack
        case .unavailable(let reason): throw TestSupportError("the systemd stack is unavailable: \(reason)")
        case .failed(let failure): throw TestSupportError("systemd/try-in-container.sh up failed: \(failure)")
        }
    }

    private init(name: String, ports: [Int], package: String) {
        self.name = name
        trafficPort = ports[0]
        statsPort = ports[1]
        balancerPort = ports[2]
        clientPort = ports[3]
        dashboardPort = ports[4]
        self.package = package
    }

    /// Whether the packaged binary (`ContainerBackendStack.hostBinary`, the release build the
    /// package takes) knows `--backend systemd` (`wsscale balancer --check-config` accepts
    /// `WSSCALE_BACKEND=systemd`): the stack tests through the balancer need it.
    public static let hasSystemdBackend: Bool = {
        let check = TestCommand.run(ContainerBackendStack.hostBinary, ["balancer", "--check-config"],
                                    environment: ["WSSCALE_BACKEND": "systemd"], directory: FileManager.default.temporaryDirectory)
        return check.status == 0 && check.output.contains("WSSCALE_BACKEND=systemd")
    }()

    /// The repository's `systemd/` folder.
    public static var scripts: String { DockerTestEnvironment.repositoryRoot.appendingPathComponent("systemd").path }

    /// Runs a command in the container (`podman exec`), on a thread of its own: the few
    /// threads that async tests share are never blocked by it (other suites' 1 s leases run
    /// on them).
    @discardableResult
    public func exec(_ arguments: [String]) async -> (status: Int32, output: String) {
        await TestCommand.runDetached("podman", ["exec", name] + arguments)
    }

    /// Runs a shell script in the container (`sh -c`).
    @discardableResult
    public func shell(_ script: String) async -> (status: Int32, output: String) {
        await exec(["sh", "-c", script])
    }

    /// `systemd/try-in-container.sh` with this stack's name and ports.
    func tryInContainer(_ verb: String, extra: [String: String] = [:]) -> (status: Int32, output: String) {
        TestCommand.run("\(Self.scripts)/try-in-container.sh", [verb], environment: [
            "WSSCALE_TRY_NAME": name, "WSSCALE_TRY_TRAFFIC_PORT": "\(trafficPort)", "WSSCALE_TRY_STATS_PORT": "\(statsPort)",
            "WSSCALE_TRY_BALANCER_PORT": "\(balancerPort)", "WSSCALE_TRY_CLIENT_PORT": "\(clientPort)",
            "WSSCALE_TRY_DASHBOARD_PORT": "\(dashboardPort)", "WSSCALE_DEB": package,
        ].merging(extra) { _, new in new })
    }

    /// The balancer's `GET /api/topology` on its published port.
    public func topology() async throws -> BalancerTopology {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: balancerPort)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology: \(response.status) \(response.body)") }
        return try JSONDecoder().decode(BalancerTopology.self, from: Data(response.body.utf8))
    }

    /// Waits (polling every 0.2 s, at most `seconds`) until the balancer, the client simulator
    /// and the dashboard answer `GET /health` on their published ports.
    public func waitForServices(seconds: Int = 120) async -> Bool {
        let urls = [balancerPort, clientPort, dashboardPort].map { "http://127.0.0.1:\($0)/health" }.joined(separator: " ")
        return await TestCommand.runDetached("/bin/sh", ["-c", """
            for url in \(urls); do
              i=0; until curl -fsS --max-time 2 "$url" >/dev/null 2>&1; do
                i=$((i + 1)); [ "$i" -gt \(seconds * 5) ] && exit 1; sleep 0.2; done
            done
            """]).status == 0
    }

    private static func prepare() -> Preparation {
        let root = DockerTestEnvironment.repositoryRoot.path
        let setup = TestCommand.run("\(root)/scripts/setup-podman.sh", [])
        guard setup.status == 0 else {
            return .unavailable(TestCommand.announceSkip("systemd stack", "podman cannot work here: \(setup.output.trimmingCharacters(in: .whitespacesAndNewlines))"))
        }
        if TestCommand.run("podman", ["image", "exists", image]).status != 0 {
            let made = TestCommand.run("/bin/sh", ["-c", "\"$0/systemd/image.sh\" >/tmp/wsscale-test-systemd-image.log 2>&1", root])
            guard made.status == 0 else {
                return .unavailable(TestCommand.announceSkip("systemd stack", "systemd/image.sh could not make \(image) (log /tmp/wsscale-test-systemd-image.log)"))
            }
        }
        var package = ProcessInfo.processInfo.environment["WSSCALE_SYSTEMD_TEST_DEB"] ?? ""
        if package.isEmpty {
            let built = TestCommand.run("/bin/sh", ["-c", "\"$0/systemd/build-deb.sh\" 2>/tmp/wsscale-test-build-deb.log | tail -n 1", root])
            package = built.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard built.status == 0, FileManager.default.fileExists(atPath: package) else {
                return .unavailable(TestCommand.announceSkip("systemd stack", "systemd/build-deb.sh could not build the package (log /tmp/wsscale-test-build-deb.log)"))
            }
        }
        var ports: [Int] = []
        while ports.count < 5 {
            guard let port = try? TestSupport.freeLoopbackPort() else { return .failed("no free port on 127.0.0.1") }
            if !ports.contains(port) { ports.append(port) }
        }
        let name = "wsscale-systemd-test-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let stack = SystemdContainerStack(name: name, ports: ports, package: package)
        let envFile = NSTemporaryDirectory() + "\(name).env"
        let lines = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") + "\n"
        do { try lines.write(toFile: envFile, atomically: true, encoding: .utf8) } catch { return .failed("cannot write \(envFile): \(error)") }
        defer { unlink(envFile) }
        SystemdContainerStackRegistry.name = name
        atexit { SystemdContainerStackRegistry.removeAtExit() }
        // Until the systemd driver is in the binary, `--backend systemd` is refused and the
        // balancer cannot answer: the deployment's own checks still run (no wait for /health).
        let wait = hasSystemdBackend ? "health" : "started"
        if !hasSystemdBackend {
            FileHandle.standardError.write(Data("NOTE: \(ContainerBackendStack.hostBinary) has no systemd backend: the systemd stack runs without a working balancer (WSSCALE_TRY_WAIT=started); only the deployment checks run\n".utf8))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let up = stack.tryInContainer("up", extra: ["WSSCALE_TRY_ENV_FILE": envFile, "WSSCALE_TRY_WAIT": wait])
        guard up.status == 0 else {
            return .failed("exit status \(up.status):\n\(up.output.suffix(4000))")
        }
        let published = "traffic \(ports[0]), stats \(ports[1]), balancer \(ports[2]), client \(ports[3]), dashboard \(ports[4])"
        FileHandle.standardError.write(Data("==> systemd stack \(name) up after \(clock.now - start) (package \(package)); ports: \(published)\n".utf8))
        return .ready(stack)
    }
}

/// The container to remove when the test process exits (`atexit` takes no closure context).
enum SystemdContainerStackRegistry {
    nonisolated(unsafe) static var name: String?

    static func removeAtExit() {
        guard let name else { return }
        TestCommand.run("podman", ["rm", "-f", "-v", "-t", "5", name])
    }
}
