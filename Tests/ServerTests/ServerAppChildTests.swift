#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleTestSupport

/// `wsscale server -- COMMAND`: the server starts the team's app (the example chat in
/// `examples/chat`, a real Python `websockets` server) on a free port and puts it behind its
/// front door. Real processes: the `wsscale` binary and `/usr/bin/python3`.
@Suite("wsscale server -- app", .timeLimit(.minutes(2)))
struct ServerAppChildTests {
    /// The repository's example chat app.
    static var chatApp: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/chat/chat.py").path
    }

    /// The front-door settings every test here uses (the registry inside the server).
    private static func environment(port: Int, _ extra: [String: String] = [:]) -> [String: String] {
        ["REDIS_URL": "memory://", "SERVER_HOST": "127.0.0.1", "SERVER_PORT": "\(port)", "SERVER_ID": "ws-app",
         "APP_UPSTREAM_URL": "ws://127.0.0.1:{port}/ws/{userId}", "APP_HEALTH_CHECK": "/health",
         "SHUTDOWN_GRACE_SECONDS": "3", "PATH": "/usr/bin:/bin"].merging(extra) { $1 }
    }

    private func launch(_ environment: [String: String], app: [String]) throws -> (Process, Pipe) {
        try ServerProcessTests.launch(environment, arguments: ["server"] + (app.isEmpty ? [] : ["--"] + app))
    }

    /// The pids of a process's children (`/proc/PID/task/*/children`).
    private func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }

    private func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    private func waitForExit(_ process: Process) async throws {
        try await TestSupport.waitUntil("the server exits", timeout: nil) { !process.isRunning }
    }

    @Test("the app comes up behind the server: sessions reach it, and SIGTERM closes them (1001), then stops the app")
    func appBehindTheServer() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let (process, _) = try launch(Self.environment(port: port), app: ["/usr/bin/python3", Self.chatApp])
        defer { if process.isRunning { process.terminate() } }
        try await TestSupport.waitUntil("the server answers /health") {
            (try? await RawHTTPClient.request("GET", "/health", port: port))?.status == 200
        }
        let app = try #require(children(of: process.processIdentifier).first, "the server started no app")
        let client = try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/alice")
        try await client.send(text: "not chat: echoed by the app")
        #expect(await client.nextMessage() == .text("not chat: echoed by the app"))
        kill(process.processIdentifier, SIGTERM)
        #expect(await client.closeFrame()?.code == 1001)
        try await waitForExit(process)
        #expect(process.terminationStatus == 0)
        #expect(!isAlive(app), "the app outlived the server")
    }

    @Test("an app that exits under load: the server closes its sessions and exits with the app's status")
    func appExits() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let (process, _) = try launch(Self.environment(port: port), app: ["/usr/bin/python3", Self.chatApp])
        defer { if process.isRunning { process.terminate() } }
        try await TestSupport.waitUntil("the server answers /health") {
            (try? await RawHTTPClient.request("GET", "/health", port: port))?.status == 200
        }
        let client = try await WebSocketTestClient.connect(port: port, path: "/api/v1/websocket/bob")
        let app = try #require(children(of: process.processIdentifier).first)
        kill(app, SIGKILL)
        let close = await client.closeFrame()
        #expect(close?.code == 1014 || close?.code == 1001, "the client got \(String(describing: close))")
        try await waitForExit(process)
        #expect(process.terminationStatus == 128 + SIGKILL)
    }

    @Test("an app that never passes its health check: exit status 3, naming the app and the check; the app is stopped")
    func neverHealthy() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let environment = Self.environment(port: port, ["APP_HEALTH_CHECK": "/no-such-path", "APP_START_TIMEOUT_SECONDS": "1"])
        let (process, errors) = try launch(environment, app: ["/usr/bin/python3", Self.chatApp])
        defer { if process.isRunning { process.terminate() } }
        try await waitForExit(process)
        #expect(process.terminationStatus == 3)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("chat.py"))
        #expect(message.contains("did not pass its health check (GET /no-such-path"))
        #expect((try? await RawHTTPClient.request("GET", "/health", port: port))?.status == nil, "the server listened")
    }

    @Test("an app that exits at once: exit status 3 with its status; WSSCALE_APP_COMMAND runs through /bin/sh")
    func exitsAtOnce() async throws {
        let port = try TestSupport.freeLoopbackPort()
        let (process, errors) = try launch(Self.environment(port: port, ["WSSCALE_APP_COMMAND": "echo starting; exit 7"]), app: [])
        defer { if process.isRunning { process.terminate() } }
        try await waitForExit(process)
        #expect(process.terminationStatus == 3)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("exited with code 7 before passing its health check"), "\(message)")
    }

    @Test("APP_UPSTREAM_URL with {port} and no app, or an app with no APP_UPSTREAM_URL: exit status 2 naming it")
    func inconsistentSettings() async throws {
        let port = try TestSupport.freeLoopbackPort()
        var withoutApp = Self.environment(port: port)
        withoutApp["APP_HEALTH_CHECK"] = "health"
        let (first, firstErrors) = try launch(withoutApp, app: [])
        try await waitForExit(first)
        #expect(first.terminationStatus == 2)
        let firstMessage = String(decoding: firstErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(firstMessage.contains("APP_UPSTREAM_URL") && firstMessage.contains("no app is given"))
        #expect(firstMessage.contains("APP_HEALTH_CHECK"))

        var withoutURL = Self.environment(port: port)
        withoutURL["APP_UPSTREAM_URL"] = nil
        let (second, secondErrors) = try launch(withoutURL, app: ["/usr/bin/python3", Self.chatApp])
        try await waitForExit(second)
        #expect(second.terminationStatus == 2)
        let secondMessage = String(decoding: secondErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(secondMessage.contains("APP_UPSTREAM_URL"))
    }
}
