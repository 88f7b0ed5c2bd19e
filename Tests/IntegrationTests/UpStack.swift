#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// `wsscale up` run by a test as a child process: free loopback ports, a fresh state
/// directory, the seed's knobs with short windows, everything reached over HTTP.
///
/// Every process the stack starts inherits `WSSCALE_STATE_DIR=<this stack's directory>`
/// (redis-server overwrites its environment with its title, so its pid is read from `up`'s
/// output instead); that is how `leftovers()` finds what would outlive the stack.
/// `WSSCALE_IT_KEEP_STATE=1` keeps the state directory (all logs) of a failed test;
/// `LOG_LEVEL=debug` reaches `up` and its servers.
final class UpStack: @unchecked Sendable {
    /// The stack's ports on 127.0.0.1.
    struct Ports: Sendable {
        var lb: Int
        var stats: Int
        var redis: Int
        var balancer: Int
        var client: Int
        var dashboard: Int
    }

    /// The seed's knobs, with windows short enough for tests (the same for every stack).
    static var seedEnvironment: [String: String] { ContainerBackendStack.seedEnvironment }

    let ports: Ports
    let stateDirectory: String
    let environment: [String: String]
    private let lock = NSLock()
    private var adminToken: String?
    private var process: LocalProcess?
    private var startedPids: Set<pid_t> = []
    private var launches = 0

    private init(ports: Ports, stateDirectory: String, environment: [String: String]) {
        self.ports = ports
        self.stateDirectory = stateDirectory
        self.environment = environment
    }

    /// The stack's APIs, with the admin token `up` generated (known once it started).
    var api: StackAPI {
        StackAPI(clientPort: ports.client, balancerPort: ports.balancer, adminToken: lock.withLock { adminToken })
    }

    /// `<state dir>/admin-token`: where `up` keeps the token it generated.
    var adminTokenPath: String { stateDirectory + "/admin-token" }

    /// Starts a stack, runs `body`, and stops the stack (SIGTERM) whatever happened, then
    /// expects that nothing it started is left running.
    static func with<Result>(_ overrides: [String: String] = [:],
                             _ body: (UpStack) async throws -> Result) async throws -> Result {
        var candidate = try make(overrides)
        var launchError: (any Error)?
        for attempt in 1...3 {
            do {
                try await candidate.launch()
                launchError = nil
                break
            } catch {
                launchError = error
                // The free ports were picked before `up` bound them; a test running in parallel
                // may have taken one meanwhile. Start again on other ports.
                let tail = candidate.logTail(lines: 200)
                guard attempt < 3, tail.contains("Address already in use") || tail.contains("is taken") else { break }
                print("wsscale up lost a port to a test running beside it (attempt \(attempt)); starting again on other ports")
                _ = await candidate.stop()
                candidate.killEverythingLeft()
                try? FileManager.default.removeItem(atPath: candidate.stateDirectory)
                candidate = try make(overrides)
            }
        }
        let stack = candidate
        defer { stack.killEverythingLeft() } // the safety net when stop() was not reached
        let outcome: Swift.Result<Result, any Error>
        do {
            if let launchError { throw launchError }
            outcome = .success(try await body(stack))
        } catch {
            outcome = .failure(error)
        }
        if case .failure = outcome {
            for pid in [stack.pid(of: .redis), stack.pid(of: .haproxy)].compactMap({ $0 }) where !isAlive(pid) {
                Issue.record("redis-server or HAProxy (pid \(pid)) of this stack died during the test: see its log under \(stack.stateDirectory)")
            }
        }
        let leftovers = await stack.stop()
        #expect(leftovers.isEmpty, "processes left after SIGTERM of wsscale up: \(leftovers)")
        if case .failure = outcome, ProcessInfo.processInfo.environment["WSSCALE_IT_KEEP_STATE"] != nil {
            print("keeping \(stack.stateDirectory) (WSSCALE_IT_KEEP_STATE): logs of up, HAProxy, redis-server")
        } else {
            if case .failure = outcome { stack.printLogTail() }
            try? FileManager.default.removeItem(atPath: stack.stateDirectory)
        }
        return try outcome.get()
    }

    /// The scenarios over this stack; a crash is `kill -9` of the server's pid.
    var scenario: StackScenario {
        StackScenario(api: api, killServer: { [self] id in
            guard let pid = serverPid(id) else { throw StackAPIError("no pid file for server \(id)") }
            kill(pid, SIGKILL)
        })
    }

    /// The path of the `wsscale` binary: `WSSCALE_BINARY`, else beside the test bundle, else
    /// `.build/debug/wsscale` in the repository.
    static var binary: String {
        if let given = ProcessInfo.processInfo.environment["WSSCALE_BINARY"] { return given }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("wsscale").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return DockerTestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/wsscale").path
    }

    private static func make(_ overrides: [String: String]) throws -> UpStack {
        let ports = Ports(lb: try TestSupport.freeLoopbackPort(), stats: try TestSupport.freeLoopbackPort(),
                          redis: try TestSupport.freeLoopbackPort(), balancer: try TestSupport.freeLoopbackPort(),
                          client: try TestSupport.freeLoopbackPort(), dashboard: try TestSupport.freeLoopbackPort())
        // Short: HAProxy's runtime socket lives under it (108-byte limit on socket paths).
        let directory = "/tmp/wsscale-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment.merge(seedEnvironment) { $1 }
        environment.merge([
            "LB_HOST": "127.0.0.1", "LB_PORT": "\(ports.lb)", "LB_STATS_PORT": "\(ports.stats)",
            "UP_REDIS_PORT": "\(ports.redis)", "BALANCER_HOST": "127.0.0.1", "BALANCER_PORT": "\(ports.balancer)",
            "CLIENT_HOST": "127.0.0.1", "CLIENT_PORT": "\(ports.client)", "WSSCALE_STATE_DIR": directory,
            "DASHBOARD_HOST": "127.0.0.1", "DASHBOARD_PORT": "\(ports.dashboard)",
        ]) { $1 }
        environment.merge(overrides) { $1 }
        // No admin token: `up` makes one in its state directory, as it does for a user.
        for name in ["REDIS_URL", "HAPROXY_RUNTIME_API", "CLIENT_TARGET_URL", "WSSCALE_BACKEND",
                     "DASHBOARD_BALANCER_URL", "DASHBOARD_CLIENT_URL", "WSSCALE_ADMIN_TOKEN",
                     "WSSCALE_ADMIN_TOKEN_FILE"] where overrides[name] == nil {
            environment[name] = nil
        }
        return UpStack(ports: ports, stateDirectory: directory, environment: environment)
    }

    /// Starts `wsscale up` (again, after `killUp()`) and waits for its ready line and its API.
    func launch(timeout: Duration = .seconds(30)) async throws {
        let log = logPath
        let readyBefore = readyLines()
        let process = try LocalProcess.spawn(executable: Self.binary, arguments: ["up"],
                                             environment: environment, outputPath: log)
        lock.withLock {
            self.process = process
            launches += 1
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while readyLines() <= readyBefore {
            if let status = process.exitStatusIfEnded() {
                throw StackAPIError("wsscale up \(status) before it was ready: \(logTail())")
            }
            guard clock.now < deadline else { throw StackAPIError("wsscale up not ready within \(timeout): \(logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        rememberPids()
        let token = try String(contentsOfFile: adminTokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        lock.withLock { adminToken = token }
        _ = try await api.topology()
    }

    /// The pid of the running `wsscale up`.
    var upPid: pid_t? { lock.withLock { process?.pid } }

    /// `kill -9` of `wsscale up` alone (its servers, HAProxy and redis-server are not told).
    func killUp() async {
        rememberPids()
        guard let process = lock.withLock({ self.process }) else { return }
        kill(process.pid, SIGKILL)
        _ = await process.waitForExit(within: .seconds(10))
    }

    /// SIGTERM to `wsscale up`, its redis-server and its HAProxy at once (as a service manager
    /// stopping the whole group would), then waits up to 20 s for `up` to exit.
    /// - Returns: whether `up` exited.
    func terminateWithInfrastructure() async -> Bool {
        rememberPids()
        guard let process = lock.withLock({ self.process }) else { return false }
        for pid in [process.pid, pid(of: .redis), pid(of: .haproxy)].compactMap({ $0 }) {
            kill(pid, SIGTERM)
        }
        return await process.waitForExit(within: .seconds(20)) != nil
    }

    /// SIGTERM to `wsscale up`, waits for it to exit, and returns what is left: every process
    /// this stack started that still runs.
    func stop() async -> [String] {
        rememberPids()
        if let process = lock.withLock({ self.process }) {
            if await process.terminate(grace: .seconds(20)) == nil {
                return ["wsscale up (pid \(process.pid)) survived SIGKILL"]
            }
        }
        // The servers are stopped before `up` exits; give orphans of a killed `up` no grace.
        try? await Task.sleep(for: .milliseconds(200))
        return leftovers()
    }

    /// Live processes this stack started: those carrying its state directory in their
    /// environment or command line, and the redis-server / haproxy / server pids it reported.
    func leftovers() -> [String] {
        rememberPids()
        var found: [pid_t: String] = [:]
        let marker = "WSSCALE_STATE_DIR=\(stateDirectory)"
        let own = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != own, Self.isAlive(pid) else { continue }
            let environ = Self.procText(pid, "environ")
            let cmdline = Self.procText(pid, "cmdline")
            if environ.split(separator: "\0").contains(where: { $0 == marker }) || cmdline.contains(stateDirectory) {
                found[pid] = cmdline.replacingOccurrences(of: "\0", with: " ")
            }
        }
        for pid in lock.withLock({ startedPids }) where Self.isAlive(pid) && found[pid] == nil {
            found[pid] = Self.procText(pid, "cmdline").replacingOccurrences(of: "\0", with: " ")
        }
        return found.sorted { $0.key < $1.key }.map { "pid \($0.key): \($0.value)" }
    }

    /// Server pids by instance id, from the process backend's pid files.
    func serverPids() -> [String: pid_t] {
        let directory = ProcessPoolDirectory(stateDirectory: stateDirectory, pool: environment["WSSCALE_POOL"] ?? "wsscale")
        var pids: [String: pid_t] = [:]
        for id in directory.instanceIDs() {
            if let record = directory.read(id) { pids[id] = record.pid }
        }
        return pids
    }

    /// One server's pid.
    func serverPid(_ id: String) -> pid_t? { serverPids()[id] }

    /// The pids `up` printed for redis-server and haproxy, in the order printed.
    func infrastructurePids() -> [pid_t] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).compactMap { line -> pid_t? in
            guard line.hasPrefix("redis ") || line.hasPrefix("haproxy "),
                  let range = line.range(of: "(pid ") else { return nil }
            return pid_t(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    /// The redis-server or HAProxy `up` runs.
    enum StackProgram: String {
        case redis = "redis-server"
        case haproxy

        var pidFile: String { self == .redis ? "redis/redis-server.pid" : "haproxy/haproxy.pid" }
    }

    /// The pid of the current redis-server or HAProxy, from the pid file `up` keeps for it
    /// (rewritten when `up` restarts it).
    func pid(of program: StackProgram) -> pid_t? {
        guard let text = try? String(contentsOfFile: stateDirectory + "/" + program.pidFile, encoding: .utf8) else { return nil }
        return ProcessPidFile.parse(text, id: program.rawValue)?.pid
    }

    /// Whether `pid` is a live process (not a zombie).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let stat = procText(pid, "stat")
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    var logPath: String { stateDirectory + "/up.log" }

    func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: "\n")
    }

    private func printLogTail() {
        print("---- last lines of \(logPath) ----\n\(logTail(lines: 60))")
    }

    private func readyLines() -> Int {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("ready ") }.count
    }

    private func rememberPids() {
        let pids = Set(serverPids().values).union(infrastructurePids())
            .union([pid(of: .redis), pid(of: .haproxy)].compactMap { $0 })
        lock.withLock { startedPids.formUnion(pids) }
    }

    private func killEverythingLeft() {
        if let process = lock.withLock({ self.process }), Self.isAlive(process.pid) { kill(process.pid, SIGKILL) }
        for line in leftovers() {
            if let pid = pid_t(line.dropFirst(4).prefix { $0.isNumber }) { kill(pid, SIGKILL) }
        }
    }

    private static func procText(_ pid: pid_t, _ file: String) -> String {
        // /proc files report size 0: read until the end instead of trusting the size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/\(file)") else { return "" }
        defer { try? handle.close() }
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }
}
