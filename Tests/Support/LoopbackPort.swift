import NIOCore
import NIOPosix

/// Free TCP ports on 127.0.0.1.
public enum LoopbackPort {
    /// A port that was free a moment ago (bound to port 0, then released).
    public static func free() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }
}
