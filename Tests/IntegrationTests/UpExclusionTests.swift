#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// A second `wsscale up` in the same state directory refuses at once (exit status 2, naming
/// the running one's pid) and touches nothing of the first; a port taken before `up` is refused
/// before anything starts. The real binary, on free loopback ports.
extension RealStackTests {
@Suite("one wsscale up per state directory")
struct UpExclusionTests {
    @Test func aSecondUpInTheSameStateDirectoryIsRefusedAndTheFirstKeepsServing() async throws {
        try await UpStack.with { stack in
            let upPid = try #require(stack.upPid)
            let redisBefore = try #require(stack.pid(of: .redis))
            let haproxyBefore = try #require(stack.pid(of: .haproxy))
            let serversBefore = stack.serverPids()
            #expect(!serversBefore.isEmpty)

            let clock = ContinuousClock()
            let startedAt = clock.now
            let second = await TestCommand.runDetached(UpStack.binary, ["up"], environment: stack.environment)
            let refusedIn = clock.now - startedAt
            print("a second wsscale up in the same state directory: refused (exit \(second.status)) in \(refusedIn): "
                  + "\(second.output.split(whereSeparator: \.isNewline).first ?? "")")
            #expect(second.status == 2, "\(second.output)")
            #expect(second.output.contains("pid \(upPid)"), "\(second.output)")
            #expect(!second.output.contains("ready"), "\(second.output)")

            // The first one is untouched: same redis-server, HAProxy and servers, alive, and it answers.
            #expect(stack.pid(of: .redis) == redisBefore && UpStack.isAlive(redisBefore))
            #expect(stack.pid(of: .haproxy) == haproxyBefore && UpStack.isAlive(haproxyBefore))
            #expect(stack.serverPids() == serversBefore)
            #expect(serversBefore.values.allSatisfy(UpStack.isAlive))
            _ = try await stack.api.topology()
        }
    }

    @Test func aTakenPortIsRefusedBeforeAnythingStarts() async throws {
        let taken = try TakenPort()
        let directory = "/tmp/wsscale-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = UpStack.seedEnvironment
        environment.merge([
            "LB_HOST": "127.0.0.1", "LB_PORT": "\(taken.port)",
            "LB_STATS_PORT": "\(try TestSupport.freeLoopbackPort())",
            "UP_REDIS_PORT": "\(try TestSupport.freeLoopbackPort())",
            "BALANCER_HOST": "127.0.0.1", "BALANCER_PORT": "\(try TestSupport.freeLoopbackPort())",
            "CLIENT_HOST": "127.0.0.1", "CLIENT_PORT": "\(try TestSupport.freeLoopbackPort())",
            "DASHBOARD_HOST": "127.0.0.1", "DASHBOARD_PORT": "\(try TestSupport.freeLoopbackPort())",
            "WSSCALE_STATE_DIR": directory,
        ]) { $1 }
        let clock = ContinuousClock()
        let startedAt = clock.now
        let result = await TestCommand.runDetached(UpStack.binary, ["up"], environment: environment)
        print("wsscale up with LB_PORT taken: refused (exit \(result.status)) in \(clock.now - startedAt): "
              + "\(result.output.split(whereSeparator: \.isNewline).first ?? "")")
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("LB_PORT") && result.output.contains("\(taken.port)"), "\(result.output)")
        // Nothing started: no redis-server or HAProxy line, pid file or log.
        #expect(!result.output.contains("redis     "), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/redis"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/haproxy"))
    }
}
}

/// A TCP port on 127.0.0.1 that something listens on, for as long as the value lives.
private final class TakenPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
        }
        guard fd >= 0, bound == 0, named == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw StackAPIError("cannot listen on a loopback port")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
