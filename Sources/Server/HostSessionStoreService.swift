import ServiceLifecycle
import WSScaleCore

/// Runs a `HostSessionStore` as a service: its `run()` keeps the lease until graceful
/// shutdown reaches it, then it is cancelled and removes the host's records.
///
/// Put it before the `WebSocketServer` in a `ServiceGroup`: shutdown goes in reverse order,
/// so the server closes its sessions first and the store cleans up after.
public struct HostSessionStoreService: Service {
    /// The store it runs.
    public let store: any HostSessionStore

    /// Wraps a store.
    public init(store: any HostSessionStore) {
        self.store = store
    }

    /// Runs the store until graceful shutdown or cancellation.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await store.run()
        }
    }
}
