import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import Testing
import WSScaleTestSupport
@testable import WSScaleCurlHTTP

/// Every libcurl transfer of the process runs on one thread (`CurlTransferLoop`), however many
/// are in flight, and each ends at once when its caller gives it up.
@Suite("libcurl transfers on one thread")
struct CurlTransferLoopTests {
    @Test("128 requests in flight at once run on the one curl thread, not a thread each; cancelling them ends every one")
    func aBurstRunsOnOneThread() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: listener.port), timeout: .seconds(300),
                                    logger: Logger(label: "test.curl-loop"))
        _ = try? await client.request("GET", "/warm-up", timeout: .milliseconds(1))  // the loop's thread exists
        let before = Self.threadNames()

        let requests = (0..<128).map { index in
            Task { try await client.request("GET", "/never-answered/\(index)") }
        }
        try await TestSupport.waitUntil("128 more connections accepted", timeout: .seconds(60)) {
            listener.accepted >= 129
        } describe: { "\(listener.accepted) accepted" }
        let during = Self.threadNames()
        #expect(during.filter { $0 == CurlTransferLoop.threadName }.count == 1, "\(during)")
        // A thread per transfer would add 128; the rest of the test process may add a few.
        #expect(during.count - before.count < 32, "\(before.count) threads before, \(during.count) with 128 requests in flight")

        for request in requests { request.cancel() }
        for request in requests {
            do {
                _ = try await request.value
                Issue.record("a request that was never answered succeeded")
            } catch let error as HTTPAPIError {
                #expect(error.cancelled, "\(error)")
            }
        }
    }

    @Test("a transfer's timeout ends it while the loop runs others")
    func timeoutsEndTransfers() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: listener.port), timeout: .milliseconds(300),
                                    logger: Logger(label: "test.curl-loop"))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        _ = try await client.request("GET", "/never-answered")
                        Issue.record("a request that was never answered succeeded")
                    } catch let error as HTTPAPIError {
                        #expect(!error.cancelled && "\(error)".contains("timed out"), "\(error)")
                    } catch {
                        Issue.record("unexpected \(error)")
                    }
                }
            }
        }
    }

    /// Names of the process's threads (`/proc/self/task/*/comm`).
    static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections and never reads or answers: every
/// request sent to it stays in flight until its sender gives up.
final class SilentListener: Sendable {
    /// The port it listens on.
    let port: Int
    private let listeningSocket: Int32
    private let connections = NIOLockedValueBox<[Int32]>([])

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 512) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        listeningSocket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let connections = self.connections
        Thread.detachNewThread {
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }  // closed
                connections.withLockedValue { $0.append(connection) }
            }
        }
    }

    /// Connections accepted so far.
    var accepted: Int { connections.withLockedValue { $0.count } }

    /// Stops listening and closes every connection.
    func close() {
        shutdown(listeningSocket, Int32(SHUT_RDWR))
        Glibc.close(listeningSocket)
        for connection in connections.withLockedValue({ $0 }) { Glibc.close(connection) }
    }
}
