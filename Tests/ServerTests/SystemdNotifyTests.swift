import Foundation
import Testing
import WSScaleTestSupport

/// `wsscale server` under a (stand-in) systemd notify socket: READY=1, WATCHDOG=1, STOPPING=1.
@Suite("wsscale server talks to systemd's notify socket")
struct SystemdNotifyTests {
    /// A unix datagram socket standing in for systemd's notify socket (plain POSIX calls,
    /// read without blocking).
    final class NotifySocket {
        let path: String
        private let descriptor: Int32
        private(set) var messages: [String] = []

        init() throws {
            path = FileManager.default.temporaryDirectory
                .appendingPathComponent("wsscale-notify-\(UUID().uuidString.prefix(8)).sock").path
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard descriptor >= 0, bound == 0 else { throw POSIXError(.EADDRINUSE) }
        }

        /// Reads every datagram waiting.
        func drain() -> [String] {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { break }
                messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
            }
            return messages
        }

        deinit {
            close(descriptor)
            unlink(path)
        }
    }

    @Test("READY=1 once listening, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM")
    func notifications() async throws {
        let notifySocket = try NotifySocket()
        let port = try TestSupport.freeLoopbackPort()
        let process = Process()
        process.executableURL = ServerProcessTests.binary
        process.arguments = ["server"]
        process.environment = ["SERVER_HOST": "127.0.0.1", "SERVER_PORT": "\(port)", "REDIS_URL": "memory://",
                               "NOTIFY_SOCKET": notifySocket.path, "WATCHDOG_USEC": "200000"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        #expect(await TestSupport.eventually(timeout: .seconds(10)) {
            notifySocket.drain().filter { $0 == "WATCHDOG=1" }.count >= 3
        })
        let beforeStop = notifySocket.drain()
        #expect(beforeStop.first == "READY=1")
        #expect((try await RawHTTPClient.request("GET", "/health", port: port)).status == 200)

        kill(process.processIdentifier, SIGTERM)
        #expect(await TestSupport.eventually(timeout: .seconds(5)) {
            notifySocket.drain().contains("STOPPING=1")
        })
        #expect(await TestSupport.eventually(timeout: .seconds(5)) { !process.isRunning })
        #expect(process.terminationStatus == 0)
    }
}
