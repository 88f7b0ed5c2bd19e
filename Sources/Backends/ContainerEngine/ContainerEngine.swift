import Foundation
import WSScaleCore

/// What differs between the container engines a `ContainerDriver` drives (Docker's Engine API,
/// Podman's libpod API): the paths, the create body, the listing's shape and the words of
/// the event stream. Everything else (labels, instance mapping, health waiting, exit
/// watching, retries, error mapping) is written once in `ContainerDriver` and
/// `ContainerEngineHTTP`.
///
/// Calls throw `DriverError` with the engine's own message.
protocol ContainerEngine: Sendable {
    /// The engine's name in messages (`docker`, `podman`).
    var name: String { get }
    /// The `Action` of the event that says a container died (`die`, `died`).
    var deathAction: String { get }
    /// The event attribute holding the exit code (`exitCode`, `containerExitCode`).
    var exitCodeAttribute: String { get }

    /// Asks whether the engine answers.
    func ping() async throws
    /// Creates a container; returns its id.
    func create(_ container: ContainerSpecification) async throws -> String
    /// Starts a container; an already running one is fine.
    func start(_ id: String) async throws
    /// Stops a container with this many seconds between SIGTERM and SIGKILL; a stopped or
    /// unknown one is fine.
    func stop(_ id: String, graceSeconds: Int) async throws
    /// Removes a container (and its anonymous volumes); an unknown one is fine.
    func remove(_ id: String, force: Bool) async throws
    /// Every container, whatever its state, with this label (`name=value`).
    func list(label: String) async throws -> [ContainerListing]
    /// One container; `nil` when there is no such container.
    func inspect(_ id: String) async throws -> ContainerInspection?
    /// The event stream, newline-delimited JSON, from `since` (Unix seconds with nanoseconds).
    func events(filters: [String: [String]], since: String) -> AsyncThrowingStream<Data, Error>
    /// Whether a container named `actual` in the event stream is the one the driver calls
    /// `name` (the same name, unless the engine names containers after what runs them).
    func isContainer(named actual: String, of name: String) -> Bool
}

extension ContainerEngine {
    /// Docker and Podman name the container as the driver asked.
    func isContainer(named actual: String, of name: String) -> Bool { actual == name }
}

/// One line of an engine's event stream (Docker's shape, which Podman's API keeps).
struct ContainerEvent: Decodable {
    struct ActorInfo: Decodable {
        var ID: String?
        var Attributes: [String: String]?
    }
    var `Type`: String?
    var Action: String?
    var Actor: ActorInfo?
    var time: Int64?
    var timeNano: Int64?
}
