import Foundation
import NIOCore
import Testing
import WSScaleTestSupport

extension HeavyLoadTests {
/// The real `wsscale server` process against a client that sends echo messages as fast as it
/// can and never reads (a small SO_RCVBUF): the process's resident memory (VmRSS) stays
/// bounded, because the server stops reading from that client, or closes it with 1008 'not
/// reading'. Without that rule the server reads all it is sent and keeps every echo it
/// cannot write: the client gets all 256 MiB out and the server's RSS grows by as much.
@Suite("backpressure: the real server's memory under a client that never reads")
struct BackpressureProcessTests {
    /// What the client offers in all: far more than both sides' kernel buffers hold.
    static let offered = 256 << 20
    /// What the client keeps queued at most on its side while the server still takes bytes.
    static let window = 8 << 20
    /// How much the server's RSS may grow over its baseline.
    static let rssGrowthBound = 64 << 20

    /// `VmRSS` of process `pid`, in bytes, from `/proc/<pid>/status`.
    static func residentBytes(of pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw TestSupportError("no VmRSS in /proc/\(pid)/status")
        }
        return kibibytes * 1024
    }

    /// The value of the metric line starting with `series` in the server's `GET /metrics` (0 when absent).
    static func metric(_ series: String, of server: PoolServerProcess) async throws -> Int {
        let text = try await server.http("GET", "/metrics").body
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) } ?? 0
    }

    static let heldBackSeries = "wsscale_reads_held_back_total"
    static let notReadingSeries = #"wsscale_connections_closed_total{reason="not_reading"}"#

    @Test("256 MiB of echo messages offered without reading: the server's VmRSS stays under baseline + 64 MiB; it holds back its reads or closes with 1008")
    func floodWithoutReading() async throws {
        let server = try PoolServerProcess.launch(id: "ws-flood", port: try TestSupport.freeLoopbackPort(),
                                                  environment: ["REDIS_URL": "memory://"])
        defer {
            server.process.kill()
            try? FileManager.default.removeItem(atPath: server.logPath)
        }
        let healthy = await TestSupport.eventually(timeout: .seconds(10)) {
            try await RawHTTPClient.request("GET", "/health", port: server.port).status == 200
        }
        try #require(healthy, "the server did not answer /health: \(server.logTail())")
        let client = try await RawWebSocketClient.connect(port: server.port, path: "/api/v1/websocket/flood",
                                                          receiveBuffer: 16 * 1024)
        try await client.setReading(false)
        let baseline = try Self.residentBytes(of: server.process.pid)

        // 1 MiB batches of 16 KiB echo messages, one buffer queued again and again.
        let frame = RawFrame.text(Array(repeating: UInt8(ascii: "f"), count: 16 * 1024)).bytes
        let batch = ByteBuffer(bytes: Array([[UInt8]](repeating: frame, count: 64).joined()))
        var queued = 0
        var pending = 0
        var stopped = false  // the server holds back its reads, or closed the session
        let clock = ContinuousClock()
        let start = clock.now
        while queued < Self.offered, !stopped {
            // Room in the window, or the server stopped taking bytes.
            let moved = await TestSupport.eventually(timeout: .seconds(60)) {
                guard client.isActive else {
                    stopped = true
                    return true
                }
                pending = try await client.pendingBytes()
                if pending < Self.window { return true }
                stopped = try await Self.metric(Self.heldBackSeries, of: server) > 0
                return stopped
            }
            try #require(moved, "the client's \(pending) pending bytes neither went out nor did the server say it held back")
            guard !stopped else { break }
            client.enqueue(batch)
            queued += batch.readableBytes
        }
        // Everything queued went out (the server took it all), or the server stopped reading or closed.
        let settled = await TestSupport.eventually(timeout: .seconds(60)) {
            guard client.isActive else { return true }
            pending = try await client.pendingBytes()
            if pending == 0 { return true }
            if try await Self.metric(Self.heldBackSeries, of: server) > 0 { return true }
            return try await Self.metric(Self.notReadingSeries, of: server) > 0
        }
        #expect(settled)
        let after = try Self.residentBytes(of: server.process.pid)
        let heldBack = try await Self.metric(Self.heldBackSeries, of: server)
        let closedNotReading = try await Self.metric(Self.notReadingSeries, of: server)
        let taken = queued - pending
        print("backpressure (wsscale server process): VmRSS \(baseline >> 10) KiB before, \(after >> 10) KiB after (+\((after - baseline) >> 10) KiB, bound +\(Self.rssGrowthBound >> 20) MiB); the client queued \(queued) of \(Self.offered) bytes offered, the server took \(taken) in \(clock.now - start); reads held back \(heldBack) time(s), closed 'not reading' \(closedNotReading)")
        #expect(heldBack > 0 || closedNotReading > 0, "the server read everything the client sent: \(taken) bytes")
        #expect(after - baseline < Self.rssGrowthBound, "VmRSS grew by \(after - baseline) bytes")
        await client.close()
    }
}
}
