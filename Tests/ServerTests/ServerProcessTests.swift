import Foundation
import Testing
import WSScaleTestSupport

/// `wsscale server` as a real process: configuration errors, SIGTERM.
@Suite("wsscale server process")
struct ServerProcessTests {
    /// The `wsscale` binary built beside the test bundle.
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("wsscale")
    }

    private func launch(_ environment: [String: String]) throws -> (Process, Pipe) {
        try Self.launch(environment)
    }

    /// Starts `wsscale ARGUMENTS` (`server` by default) with `environment` (and a `PATH`),
    /// its stderr in the returned pipe.
    static func launch(_ environment: [String: String], arguments: [String] = ["server"]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    private func waitForExit(_ process: Process, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    @Test("a bad variable exits 2 with a message naming it")
    func configurationError() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build wsscale first: \(Self.binary.path)")
        let (process, errors) = try launch(["SERVER_PORT": "eighty", "MAX_CONNECTIONS_PER_HOST": "-3",
                                       "MAX_MESSAGE_BYTES": "64KiB"])
        defer { if process.isRunning { process.terminate() } }
        #expect(await waitForExit(process, timeout: .seconds(10)))
        #expect(process.terminationStatus == 2)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("SERVER_PORT"))
        #expect(message.contains("MAX_CONNECTIONS_PER_HOST"))
        #expect(message.contains("MAX_MESSAGE_BYTES"))
    }

    @Test("an unreachable Redis does not stop the server from serving")
    func registryUnreachable() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let (process, _) = try launch(["REDIS_URL": "redis://127.0.0.1:1/0", "SERVER_HOST": "127.0.0.1",
                                       "SERVER_PORT": "\(port)", "SERVER_ID": "ws-noredis"])
        defer { if process.isRunning { process.terminate() } }
        #expect(await TestSupport.eventually(timeout: .seconds(10)) {
            (try? await RawHTTPClient.request("GET", "/health", port: port))?.status == 200
        })
        let client = try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/offline")
        #expect(client.serverHost == "ws-noredis")
        #expect(process.isRunning)
    }

    @Test("a REDIS_URL that is not a Redis URL stops startup with exit status 2, naming it")
    func registryURLInvalid() async throws {
        let (process, errors) = try launch(["REDIS_URL": "redis://127.0.0.1:notaport/0", "SERVER_PORT": "0"])
        defer { if process.isRunning { process.terminate() } }
        #expect(await waitForExit(process, timeout: .seconds(10)))
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 2)
        #expect(message.contains("REDIS_URL"))
    }

    @Test("SIGTERM closes sessions with 1001 and exits 0 within the grace period")
    func sigterm() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let (process, _) = try launch(["SERVER_ID": "ws-sigterm", "SERVER_HOST": "127.0.0.1", "SERVER_PORT": "\(port)",
                                       "REDIS_URL": "memory://", "SHUTDOWN_GRACE_SECONDS": "3"])
        defer { if process.isRunning { process.terminate() } }
        #expect(await TestSupport.eventually(timeout: .seconds(10)) {
            (try? await RawHTTPClient.request("GET", "/health", port: port))?.status == 200
        })
        let client = try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/term")
        #expect(client.serverHost == "ws-sigterm")
        let started = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        let close = try await within { await client.closeFrame() }
        #expect(close?.code == 1001)
        #expect(close?.reason == "going away")
        #expect(await waitForExit(process, timeout: .seconds(5)))
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        print("SIGTERM to exit: \(ContinuousClock.now - started)")
    }
}
