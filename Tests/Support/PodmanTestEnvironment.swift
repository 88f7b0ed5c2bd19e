import Foundation
import WSScaleBackends
import WSScaleCore
import WSScaleCurlHTTP

/// What the Podman tests need from the machine: Podman's REST API answering on
/// `/run/podman/podman.sock` and the image `localhost/wsscale:local`.
///
/// Decision: like the Docker tests, the tests make the service answer and build the image
/// themselves: `scripts/setup-podman.sh` (installs podman when missing, writes the rlimit
/// drop-in, starts `podman system service`), then `CONTAINER_ENGINE=podman
/// docker/build-image.sh wsscale:local` (the same base tarball, release binary in
/// `.build-static` and Dockerfile as Docker's image; incremental: seconds when
/// `scripts/test.sh` did it before `swift test`).
///
/// - The service cannot answer, or the image can be neither built nor found: every Podman test
///   is skipped, and the reason is printed once, on a line starting `SKIPPING the Podman tests:`.
/// - The image cannot be built but an older one exists: the tests run it, after a line
///   starting `STALE image for the Podman tests:`.
/// - `WSSCALE_PODMAN_TEST_IMAGE=<image>` uses that image as it is, without building.
public enum PodmanTestEnvironment {
    /// The image the Podman tests run (podman's name for `wsscale:local`).
    public static let productImage = "localhost/wsscale:local"
    /// The API's socket (as `scripts/setup-podman.sh` starts it).
    public static let socketPath = "/run/podman/podman.sock"
    /// The API's address, as `PODMAN_HOST` writes it.
    public static var address: ServiceAddress { .unixSocket(path: socketPath) }

    static let preparation: (unavailableReason: String?, image: String) = prepare()

    /// `nil` when the service answers and the image exists; otherwise why the Podman tests
    /// are skipped (printed to standard error once).
    public static var unavailableReason: String? { preparation.unavailableReason }

    /// Whether the Podman tests can run.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// The image the containers run.
    public static var testImage: String { preparation.image }

    static let composePreparation: (unavailableReason: String?, command: String) = {
        if let reason = unavailableReason { return (reason, "podman-compose") }
        let root = DockerTestEnvironment.repositoryRoot.path
        let setup = TestCommand.run("\(root)/scripts/setup-podman-compose.sh", [])
        let path = setup.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard setup.status == 0, path.hasPrefix("/") else {
            return (TestCommand.announceSkip("podman-compose", "podman-compose 1.6.0 cannot be installed: \(setup.output.suffix(500))"), "podman-compose")
        }
        return (nil, path)
    }()

    /// podman-compose 1.6.0, installed by `scripts/setup-podman-compose.sh` when missing.
    public static var composeCommand: String { composePreparation.command }

    /// `nil` when podman and podman-compose can run; otherwise why the podman compose tests
    /// are skipped (printed once, on a line starting `SKIPPING`).
    public static var composeUnavailableReason: String? { composePreparation.unavailableReason }

    /// The user the rootless compose tests run as (made when missing).
    public static let rootlessUser = "wsscale-rootless"

    static let rootlessPreparation: (unavailableReason: String?, socket: String, uid: String) = {
        if let reason = composeUnavailableReason { return (reason, "", "") }
        let root = DockerTestEnvironment.repositoryRoot.path
        let setup = TestCommand.run("\(root)/scripts/setup-podman-rootless.sh", [rootlessUser])
        let socket = setup.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        let uid = TestCommand.run("/usr/bin/id", ["-u", rootlessUser]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard setup.status == 0, socket.hasPrefix("/"), !uid.isEmpty else {
            return (TestCommand.announceSkip("rootless podman compose", "rootless podman for \(rootlessUser) cannot answer: \(setup.output.suffix(800))"), "", "")
        }
        return (nil, socket, uid)
    }()

    /// `nil` when the rootless user's podman service answers with the images loaded;
    /// otherwise why the rootless compose tests are skipped (printed once, `SKIPPING …`).
    public static var rootlessUnavailableReason: String? { rootlessPreparation.unavailableReason }
    /// The rootless user's API socket.
    public static var rootlessSocket: String { rootlessPreparation.socket }
    /// The rootless user's runtime folder (`XDG_RUNTIME_DIR`).
    public static var rootlessRuntimeDirectory: String { "/run/user/\(rootlessPreparation.uid)" }
    /// The rootless user's home.
    public static var rootlessHome: String { "/home/\(rootlessUser)" }

    /// Runs the `podman` CLI.
    @discardableResult
    public static func podman(_ arguments: String...) -> (status: Int32, output: String) {
        ContainerCLI.podman.run(arguments)
    }

    /// Removes every container labelled `wsscale.pool=<pool>` (test cleanup).
    public static func removeContainers(ofPool pool: String) {
        ContainerCLI.podman.removeContainers(ofPool: pool)
    }

    private static func prepare() -> (unavailableReason: String?, image: String) {
        let root = DockerTestEnvironment.repositoryRoot.path
        let setup = TestCommand.run("\(root)/scripts/setup-podman.sh", [])
        guard setup.status == 0 else {
            let reason = "the podman service cannot answer: \(setup.output.trimmingCharacters(in: .whitespacesAndNewlines))"
            return (TestCommand.announceSkip("Podman", reason), productImage)
        }
        if let named = ProcessInfo.processInfo.environment["WSSCALE_PODMAN_TEST_IMAGE"], !named.isEmpty {
            guard podman("image", "exists", named).status == 0 else {
                return (TestCommand.announceSkip("Podman", "WSSCALE_PODMAN_TEST_IMAGE=\(named) does not exist"), named)
            }
            return (nil, named)
        }
        let log = "/tmp/wsscale-test-build-podman-image.log"
        let build = ContainerCLI.podman.buildProductImage("wsscale:local", log: log, testsName: "Podman")
        guard build.status == 0 else {
            let failure = "\(productImage) could not be built (CONTAINER_ENGINE=podman docker/build-image.sh exited \(build.status)); last lines of \(log):\n\(build.tail)"
            guard podman("image", "exists", productImage).status == 0 else {
                return (TestCommand.announceSkip("Podman", failure), productImage)
            }
            FileHandle.standardError.write(Data("STALE image for the Podman tests: \(failure)\nthey run the \(productImage) that exists.\n".utf8))
            return (nil, productImage)
        }
        return (nil, productImage)
    }
}
