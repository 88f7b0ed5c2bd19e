/// The calls the systemd backend makes on `org.freedesktop.systemd1.Manager` and on unit
/// objects, typed, each run on the bus thread with the bus's call deadline.
///
/// Changing units uses only `StartUnit`, `StopUnit`, `KillUnit` and `ResetFailedUnit` (the
/// polkit verbs `start`, `stop`, `kill`, `reset-failed` of `org.freedesktop.systemd1.manage-units`),
/// on the pool's units only. Reading uses `GetUnit`, `ListUnitsByPatterns` and
/// `org.freedesktop.DBus.Properties.Get`, which need no authorization.
struct SystemdManager: Sendable {
    /// The connection.
    let bus: SystemdBus

    /// How a unit ended, as its `org.freedesktop.systemd1.Service` properties say.
    struct ServiceEnd: Sendable, Equatable {
        /// `Result` (`success`, `exit-code`, `signal`, `core-dump`, `timeout`, `watchdog`, …).
        var result: String?
        /// `ExecMainStatus`: the exit status, or the signal number that killed it.
        var status: Int32?
    }

    /// `StartUnit(name, mode)`: queues a start job.
    func startUnit(_ unit: String, mode: String = "replace") async throws -> SystemdJob {
        try await bus.perform { try bus.startJob($0, member: "StartUnit", unit: unit, mode: mode) }
    }

    /// `StopUnit(name, mode)`: queues a stop job (systemd sends the unit's `KillSignal`).
    func stopUnit(_ unit: String, mode: String = "replace") async throws -> SystemdJob {
        try await bus.perform { try bus.startJob($0, member: "StopUnit", unit: unit, mode: mode) }
    }

    /// `KillUnit(name, whom, signal)`.
    func killUnit(_ unit: String, whom: String = "all", signal: Int32) async throws {
        try await bus.perform { connection in
            try bus.call(connection, member: "KillUnit",
                         arguments: { try $0.append(unit); try $0.append(whom); try $0.append(signal) },
                         reply: { _ in })
        }
    }

    /// `ResetFailedUnit(name)`; a unit that is not loaded (already gone) is not an error.
    func resetFailedUnit(_ unit: String) async throws {
        do {
            try await bus.perform { connection in
                try bus.call(connection, member: "ResetFailedUnit", arguments: { try $0.append(unit) }, reply: { _ in })
            }
        } catch let error as SystemdBusError where error.name == Self.noSuchUnit {
            return
        }
    }

    /// Whether systemd has the unit loaded (`GetUnit` answers rather than `NoSuchUnit`).
    func isLoaded(_ unit: String) async throws -> Bool {
        do {
            _ = try await bus.perform { connection in
                try bus.call(connection, member: "GetUnit", arguments: { try $0.append(unit) },
                             reply: { try $0.readObjectPath() })
            }
            return true
        } catch let error as SystemdBusError where error.name == Self.noSuchUnit {
            return false
        }
    }

    /// `ListUnitsByPatterns(states, patterns)`: the loaded units matching, with their `ActiveState`.
    func listUnits(states: [String], patterns: [String]) async throws -> [(name: String, activeState: String)] {
        try await bus.perform { connection in
            try bus.call(connection, member: "ListUnitsByPatterns",
                         arguments: { try $0.append(states); try $0.append(patterns) },
                         reply: { try $0.readUnitList() })
        }
    }

    /// A unit's `ActiveState`, or `nil` when it is not loaded.
    func activeState(_ unit: String) async throws -> String? {
        do {
            return try await property(unit, interface: "org.freedesktop.systemd1.Unit", name: "ActiveState")
        } catch let error as SystemdBusError where error.name == Self.unknownObject || error.name == Self.noSuchUnit {
            return nil
        }
    }

    /// A service unit's `Result` and `ExecMainStatus`; `nil` fields when the unit is gone.
    func serviceEnd(_ unit: String) async -> ServiceEnd {
        let result = try? await property(unit, interface: "org.freedesktop.systemd1.Service", name: "Result")
        let status = try? await property(unit, interface: "org.freedesktop.systemd1.Service", name: "ExecMainStatus")
        return ServiceEnd(result: result ?? nil, status: (status ?? nil).flatMap { Int32($0) })
    }

    /// `org.freedesktop.DBus.Properties.Get(interface, name)` on a unit's object, as text.
    private func property(_ unit: String, interface: String, name: String) async throws -> String? {
        try await bus.perform { connection in
            try bus.call(connection, path: try SystemdMessage.path(ofUnit: unit), interface: "org.freedesktop.DBus.Properties",
                         member: "Get", arguments: { try $0.append(interface); try $0.append(name) },
                         reply: { try $0.readVariant() })
        }
    }

    /// The error systemd answers for a unit it does not have loaded.
    static let noSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
    /// The error D-Bus answers for an object path nobody serves (a unit unloaded meanwhile).
    static let unknownObject = "org.freedesktop.DBus.Error.UnknownObject"
}
