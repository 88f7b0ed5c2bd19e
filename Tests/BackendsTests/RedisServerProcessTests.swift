import Foundation
import Logging
import Testing
@testable import WSScaleBackends
import WSScaleTestSupport

/// `RedisServerProcess` (what `wsscale up` starts) against real redis-server processes.
@Suite struct RedisServerProcessTests {
    let logger = Logger(label: "test.redis-server-process")

    @Test("starts on a free port, answers as itself, and stops")
    func startsAndStops() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let directory = NSTemporaryDirectory() + "wsscale-rsp-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let redis = try await RedisServerProcess.start(port: port, in: directory, logger: logger)
        #expect(redis.url.port == port)
        let status = await redis.stop()
        #expect(status != nil)
    }

    @Test("a port another redis-server holds is an error naming it, not a start on someone else's data")
    func portHeldByAnotherRedis() async throws {
        let other = try await TestRedisServer.start()
        defer { other.stop() }
        let directory = NSTemporaryDirectory() + "wsscale-rsp-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The other one answers PING on that port at once; only this one's exit tells the truth.
        let error = await #expect(throws: RedisError.self) {
            _ = try await RedisServerProcess.start(port: other.port, in: directory, logger: logger)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("Address already in use"), "\(String(describing: error))")
    }

    @Test func processIDFromInfo() {
        let info = "# Server\r\nredis_version:7.0.15\r\nprocess_id:4242\r\nrun_id:abc\r\n"
        #expect(RedisServerProcess.processID(inInfo: info) == 4242)
        #expect(RedisServerProcess.processID(inInfo: "# Server\r\n") == nil)
    }
}
