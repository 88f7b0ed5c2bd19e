import Foundation
import WSScaleBackends
#if canImport(Glibc)
import Glibc
#endif

/// What the Docker tests need from the machine: a Docker daemon that answers, the local
/// base image and a container image that answers `GET /health`.
///
/// Decision: the tests make the daemon answer and build the image themselves, so that
/// `scripts/test.sh` on a fresh CI machine runs them on the real server. `scripts/test.sh`
/// does both before `swift test` (so that no test waits on a build); otherwise the first use runs
/// `scripts/setup-docker.sh` (installs docker.io + debootstrap when missing, starts dockerd
/// when `docker info` fails; needs root, as CI has), then `docker/build-image.sh`: the base
/// image `wsscale-base:bookworm` (debootstrapped once, ~30 s–3 min), the release binary with
/// `--static-swift-stdlib` in `.build-static` (clean ~2–5 min, incremental seconds; a
/// scratch directory of its own, so it does not wait for the `swift test` that runs it) and
/// the image `wsscale:local` (seconds). The containers then run the real `wsscale server`.
///
/// - dockerd cannot answer: every Docker test is skipped, and the reason is printed once,
///   starting with `SKIPPING`.
/// - The image cannot be built: the tests run a stand-in (busybox httpd serving `/health`
///   on the base image), and the reason is printed once, starting with `STAND-IN`.
/// - `WSSCALE_DOCKER_TEST_IMAGE=<image>` uses that image as it is, without building
///   (`wsscale-base:bookworm` for the stand-in).
public enum DockerTestEnvironment {
    /// The repository's root (where `scripts/` and `docker/` are).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The image `docker/build-image.sh` builds: `wsscale server` on the local base.
    public static let productImage = "wsscale:local"
    /// The local base image (busybox included), on which the stand-in runs.
    public static let baseImage = "wsscale-base:bookworm"

    /// The machine as the Docker tests found it: why they are skipped (if they are), and
    /// which image the containers run.
    struct Preparation {
        var unavailableReason: String?
        var image: String
    }

    static let preparation: Preparation = prepare()

    /// `nil` when a Docker daemon answers and a test image exists; otherwise why the
    /// Docker tests are skipped (printed to standard error once).
    public static var unavailableReason: String? { preparation.unavailableReason }

    /// Whether the Docker tests can run.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// The image the driver tests run: `wsscale:local` (built by the first use), the image
    /// named by `WSSCALE_DOCKER_TEST_IMAGE`, or the base image with the stand-in command.
    public static var testImage: String { preparation.image }

    /// Whether the containers run the real `wsscale server` (not the busybox stand-in).
    public static var runsRealServer: Bool { testImage != baseImage }

    /// The command the containers run: `nil` (the image's own, `wsscale server`) for a
    /// wsscale image; on the base image, busybox httpd serving a `/health` file on `$SERVER_PORT`.
    public static var testCommand: [String]? {
        runsRealServer ? nil : [
            "/bin/busybox", "sh", "-c",
            "mkdir -p /tmp/www && echo ok > /tmp/www/health && exec /bin/busybox httpd -f -p \"$SERVER_PORT\" -h /tmp/www",
        ]
    }

    /// Runs a program to its end (`TestCommand.run`: posix_spawn, never Foundation's `Process`).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: URL? = nil) -> (status: Int32, output: String) {
        TestCommand.run(executable, arguments, environment: environment, directory: directory)
    }

    /// Runs a program to its end on a thread of its own (`TestCommand.runDetached`).
    public static func runDetached(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   directory: URL? = nil) async -> (status: Int32, output: String) {
        await TestCommand.runDetached(executable, arguments, environment: environment, directory: directory)
    }

    /// Runs the `docker` CLI.
    @discardableResult
    public static func docker(_ arguments: String...) -> (status: Int32, output: String) {
        ContainerCLI.docker.run(arguments)
    }

    /// Removes every container labelled `wsscale.pool=<pool>` (test cleanup).
    public static func removeContainers(ofPool pool: String) {
        ContainerCLI.docker.removeContainers(ofPool: pool)
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func prepare() -> Preparation {
        let scripts = repositoryRoot.path
        let setup = run("\(scripts)/scripts/setup-docker.sh", [])
        guard setup.status == 0 else {
            return Preparation(unavailableReason: skip("dockerd cannot start: \(setup.output.trimmingCharacters(in: .whitespacesAndNewlines))"),
                               image: baseImage)
        }
        if let named = ProcessInfo.processInfo.environment["WSSCALE_DOCKER_TEST_IMAGE"], !named.isEmpty {
            if named == baseImage, run("\(scripts)/docker/base-image.sh", []).status != 0 {
                return Preparation(unavailableReason: skip("the base image \(baseImage) cannot be made"), image: named)
            }
            guard docker("image", "inspect", named).status == 0 else {
                return Preparation(unavailableReason: skip("WSSCALE_DOCKER_TEST_IMAGE=\(named) does not exist (docker/build-image.sh builds \(productImage))"),
                                   image: named)
            }
            return Preparation(unavailableReason: nil, image: named)
        }
        let log = "/tmp/wsscale-test-build-docker-image.log"
        let build = ContainerCLI.docker.buildProductImage(productImage, log: log, testsName: "Docker")
        if build.status == 0 {
            return Preparation(unavailableReason: nil, image: productImage)
        }
        FileHandle.standardError.write(Data("STAND-IN for the Docker tests: \(productImage) could not be built (docker/build-image.sh exited \(build.status)); the containers run busybox httpd on \(baseImage) instead. Last lines of \(log):\n\(build.tail)\n".utf8))
        guard run("\(scripts)/docker/base-image.sh", []).status == 0 else {
            return Preparation(unavailableReason: skip("neither \(productImage) nor the base image \(baseImage) can be made"), image: baseImage)
        }
        return Preparation(unavailableReason: nil, image: baseImage)
    }

    private static func skip(_ reason: String) -> String {
        TestCommand.announceSkip("Docker", reason)
    }
}

/// A test environment that could not be prepared.
public struct TestEnvironmentError: Error, CustomStringConvertible {
    /// What failed.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
