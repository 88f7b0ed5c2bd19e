/// What the control loop asks a backend to launch.
public struct LaunchRequest: Sendable, Equatable {
    /// The new instance's identity; the driver names its process / container / unit after it
    /// and passes it to the server as `SERVER_ID`.
    public var id: InstanceID
    /// The port the server listens on inside its sandbox; `nil` lets the driver choose
    /// (the process backend picks a free loopback port).
    public var port: Int?
    /// Environment for the server (Redis address, knobs). The driver adds `SERVER_ID`,
    /// `SERVER_HOST` and `SERVER_PORT`.
    public var environment: [String: String]

    /// Creates a launch request.
    public init(id: InstanceID, port: Int? = nil, environment: [String: String] = [:]) {
        self.id = id
        self.port = port
        self.environment = environment
    }
}

/// The life of an instance as its backend sees it (not its rotation state).
public enum DriverInstanceStatus: Sendable, Equatable {
    /// Created or started, not yet answering `/health`.
    case starting
    /// Running and reachable at its endpoint.
    case running
    /// Gone or exited, with its exit code when known.
    case exited(code: Int32?)
}

/// One instance of this pool as its backend reports it.
public struct DriverInstance: Sendable, Equatable {
    /// The instance's identity.
    public var id: InstanceID
    /// Its backend-side status.
    public var status: DriverInstanceStatus
    /// Where the proxy reaches it, once known.
    public var endpoint: Endpoint?

    /// Creates a description of one instance.
    public init(id: InstanceID, status: DriverInstanceStatus, endpoint: Endpoint? = nil) {
        self.id = id
        self.status = status
        self.endpoint = endpoint
    }
}

/// An instance that exited without being asked to.
public struct InstanceExit: Sendable, Equatable {
    /// Which instance.
    public var id: InstanceID
    /// Its exit code, when the backend knows it.
    public var exitCode: Int32?
    /// The backend's words about it (signal, OOM, unit result …).
    public var reason: String

    /// Creates an exit report.
    public init(id: InstanceID, exitCode: Int32?, reason: String) {
        self.id = id
        self.exitCode = exitCode
        self.reason = reason
    }
}

/// Errors every driver reports in the same shape.
public struct DriverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in the backend's own words where it gave some.
    public var message: String
    /// The instance concerned, if any.
    public var instance: InstanceID?

    /// Creates a driver error.
    public init(_ message: String, instance: InstanceID? = nil) {
        self.message = message
        self.instance = instance
    }

    public var description: String {
        instance.map { "\($0): \(message)" } ?? message
    }
}

/// The plugin seam: how the scaler starts and stops `wsscale server` instances on one
/// kind of runtime. Rotation (active / draining) is not the driver's business: the
/// proxy and the session registry hold it, the same way for every backend.
///
/// Contract (checked by the driver conformance suite for every backend the machine runs):
/// - A driver manages one **pool**: it only lists, stops and reports instances it (or an
///   earlier run of it with the same pool name) launched, and finds them again after a
///   restart of the balancer, so nothing is orphaned or launched twice.
/// - `launch` returns once the instance exists (it may still be starting) or throws
///   `DriverError`; an instance created but not started is cleaned up before it throws.
/// - `waitUntilRunning` returns the endpoint once the server answers `GET /health`
///   (200 or 503: it is up), or throws after `timeout`.
/// - `stop` sends the graceful signal (SIGTERM), waits up to `grace`, then forces (SIGKILL),
///   and removes what the instance leaves behind. Stopping an unknown or gone instance
///   succeeds. A stopped instance is not reported by `exits()`.
/// - `exits()` yields each instance that exited on its own (crash, kill, OOM) once.
///   It is meant for one consumer (the control loop).
/// - Every method may be called concurrently.
///
/// How each requirement maps to each backend:
///
/// | requirement | process (POSIX) | Docker Engine API 1.41 | Podman libpod API v4 | systemd D-Bus Manager |
/// |---|---|---|---|---|
/// | `instances()` | pid files under the state directory + `kill(pid, 0)` | `GET /containers/json?all=1&filters={"label":["wsscale.pool=P"]}` | `GET /libpod/containers/json?all=true&filters=…label…` | `ListUnitsByPatterns(["active","activating","deactivating","failed","reloading"], ["wsscale-server@POOL:*.service"])`; the port read back from `/run/wsscale/POOL:ID.env`; failed units reported once and reset |
/// | `launch(_:)` | `posix_spawn` of `wsscale server` with the environment, pid file written | `POST /containers/create?name=ID` (labels, env, `StopTimeout`, port binding on 127.0.0.1) + `POST /containers/ID/start` | `POST /libpod/containers/create` + `POST /libpod/containers/ID/start` | `/run/wsscale/POOL:ID.env` written (0600: `SERVER_ID/HOST/PORT`, environment, secrets), then `StartUnit("wsscale-server@POOL:ID.service", "replace")` |
/// | `waitUntilRunning(_:timeout:)` | poll `GET /health` on the chosen port | `GET /containers/ID/json` for the published port, then `GET /health` | `GET /libpod/containers/ID/json`, then `GET /health` | the start job's `JobRemoved` (`done` after `READY=1`, `Type=notify`; else `DriverError` with `Result`, unit reset), then `GET /health` |
/// | `stop(_:grace:)` | `kill(SIGTERM)`, wait, `kill(SIGKILL)`, `waitpid`, remove pid file | `POST /containers/ID/stop?t=GRACE` + `DELETE /containers/ID` | `POST /libpod/containers/ID/stop?timeout=GRACE` + `DELETE /libpod/containers/ID` | `StopUnit(name, "replace")`, its job awaited up to grace, then `KillUnit(name, "all", SIGKILL)`; `ResetFailedUnit`, env file removed (`TimeoutStopSec` is a backstop) |
/// | `exits()` | a poll every `exitPollInterval`: `waitpid(WNOHANG)` on its children, `kill(pid, 0)` on adopted ones | `GET /events?filters={"event":["die"],"label":[…]}` stream | `GET /libpod/events?stream=true&filters=…` | `Subscribe` + `PropertiesChanged` on unit objects (`ActiveState` → failed/inactive): `ExecMainStatus`, `Result`; then `ResetFailedUnit` |
public protocol InstanceDriver: Sendable {
    /// A short name for logs and the API (`process`, `docker`, `podman`, `systemd`).
    var name: String { get }

    /// The instances of this pool that exist now, whatever their state.
    func instances() async throws -> [DriverInstance]

    /// Creates and starts one instance.
    /// - Parameter request: its identity, port and environment.
    /// - Returns: the instance, usually still `.starting`.
    func launch(_ request: LaunchRequest) async throws -> DriverInstance

    /// Waits until the instance answers its health check.
    /// - Parameters:
    ///   - id: the instance.
    ///   - timeout: how long to wait before throwing `DriverError`.
    /// - Returns: where the proxy reaches it.
    func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint

    /// Stops an instance gracefully, then forcibly, and removes it.
    /// - Parameters:
    ///   - id: the instance.
    ///   - grace: how long it has between SIGTERM and SIGKILL.
    func stop(_ id: InstanceID, grace: Duration) async throws

    /// Instances that exited on their own, each reported once.
    func exits() -> AsyncStream<InstanceExit>
}
