import WSScaleCore

/// Wraps a driver whose `instances()` fails the first three times.
actor FailingOnceDriver: InstanceDriver {
    let base: FakeDriver
    private(set) var failures = 0

    init(base: FakeDriver) { self.base = base }

    nonisolated var name: String { base.name }

    func instances() async throws -> [DriverInstance] {
        if failures < 3 {
            failures += 1
            throw DriverError("driver unreachable")
        }
        return try await base.instances()
    }

    func launch(_ request: LaunchRequest) async throws -> DriverInstance { try await base.launch(request) }

    func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        try await base.waitUntilRunning(id, timeout: timeout)
    }

    func stop(_ id: InstanceID, grace: Duration) async throws { try await base.stop(id, grace: grace) }

    nonisolated func exits() -> AsyncStream<InstanceExit> { base.exits() }
}
