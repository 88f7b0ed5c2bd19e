// ConnectionBench: opens N idle WebSocket connections to one `wsscale server` on loopback and
// prints the opening rate, the server's RSS per idle connection and the time until the
// registry lists them all; optionally (--rtt-messages) the round-trip time of echoed messages.
// With --path-template and --no-registry it also measures any WebSocket echo app directly.
// See bench/README.md.
import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Command-line options (`--help` lists them).
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ConnectionBench")

    @Option(help: "The server's address (loopback only: 127.x.x.x).") var host = "127.0.0.1"
    @Option(help: "The server's port.") var port = 8088
    @Option(help: "The server's pid, for its RSS.") var serverPid: Int32?
    @Option(help: "Connections to open.") var count = 10_000
    @Option(help: "Connections opening at once.") var concurrency = 256
    @Option(help: "Where the server lists its sessions over HTTP.") var registryPath = "/ws-session/all"
    @Option(name: .customLong("registry-timeout"), help: "Seconds allowed for the registry to list them all.")
    var registryTimeout: Double = 60
    @Option(help: "Read the registry in Redis on 127.0.0.1:PORT (HLEN of --registry-key) instead of GET --registry-path.")
    var registryRedisPort: Int?
    @Option(help: "The host's session hash in Redis.") var registryKey = "wsscale:host:ws-bench:sessions"
    @Option(name: .customLong("hold"), help: "Seconds to keep the connections open after measuring (and count how the server closes them).")
    var holdSeconds = 0
    @Option(help: "The upgrade request's path; {userId} becomes bench-<index> (e.g. /ws/{userId} for an app reached directly).")
    var pathTemplate = "/api/v1/websocket/{userId}"
    @Flag(help: "Do not read any registry (the peer is not a wsscale server).") var noRegistry = false
    @Option(help: "Connections opened, used for one echoed message each and closed before the server's RSS is first read (warms up code paths and allocator arenas).")
    var warmup = 0
    @Option(help: "After measuring, send this many text messages one after another and time each until its echo comes back (p50/p99).")
    var rttMessages = 0
    @Option(help: "Connections the round-trip messages take turns on (the first ones opened).") var rttConnections = 1
    @Option(help: "Bytes in each round-trip message (text, never JSON).") var rttBytes = 32
    @Option(help: "A process whose CPU time (user + system) while opening is printed; repeat for several.")
    var cpuPid: [Int32] = []

    func validate() throws {
        guard host.hasPrefix("127.") else { throw ValidationError("--host must be a loopback address (127.x.x.x), not \(host)") }
        for (flag, value) in [("--port", port), ("--registry-redis-port", registryRedisPort ?? 1)] where !(1...65535).contains(value) {
            throw ValidationError("\(flag) must be a port (1-65535), not \(value)")
        }
        for (flag, value) in [("--count", count), ("--concurrency", concurrency), ("--server-pid", Int(serverPid ?? 1)),
                              ("--cpu-pid", Int(cpuPid.min() ?? 1))] where value <= 0 {
            throw ValidationError("\(flag) needs a positive number, not \(value)")
        }
        guard registryTimeout > 0, holdSeconds >= 0 else { throw ValidationError("--registry-timeout must be positive and --hold not negative") }
        guard pathTemplate.hasPrefix("/"), !pathTemplate.contains(" ") else {
            throw ValidationError("--path-template must be a path starting with /, not \(pathTemplate)")
        }
        guard warmup >= 0, rttMessages >= 0, (1...count).contains(rttConnections), (16...65536).contains(rttBytes) else {
            throw ValidationError("--warmup and --rtt-messages must not be negative, --rtt-connections must be 1...--count, --rtt-bytes 16...65536")
        }
    }
}

/// Resident set size of a process in bytes (VmRSS of /proc/PID/status).
func residentBytes(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        return kilobytes.map { $0 * 1024 }
    }
    return nil
}

/// CPU time (user + system) a process has used so far, in seconds (/proc/PID/stat).
func cpuSeconds(pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let end = stat.lastIndex(of: ")") else { return nil }
    // After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Counts what the connections saw after the upgrade.
final class BenchCounters: @unchecked Sendable {
    private let lock = NIOLock()
    private var closesByCode: [UInt16: Int] = [:]

    func closed(code: UInt16) {
        lock.withLock { closesByCode[code, default: 0] += 1 }
    }

    var closes: [UInt16: Int] {
        lock.withLock { closesByCode }
    }
}

/// Keeps an upgraded connection idle; answers the server's pings (as every client must, or
/// the server closes it after `IDLE_TIMEOUT_SECONDS`) and its close frame, which it counts.
/// On request (`roundTrip`) it sends one text message and times its echo.
final class IdleConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let counters: BenchCounters
    // Touched only on the channel's event loop.
    private var context: ChannelHandlerContext?
    private var pendingEcho: (expected: ByteBuffer, sentAt: NIODeadline, promise: EventLoopPromise<TimeAmount>)?

    init(counters: BenchCounters) {
        self.counters = counters
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        failPendingEcho(BenchError("handler removed while waiting for an echo"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        failPendingEcho(BenchError("connection closed while waiting for an echo"))
        context.fireChannelInactive()
    }

    private func failPendingEcho(_ error: Error) {
        guard let pending = pendingEcho else { return }
        pendingEcho = nil
        pending.promise.fail(error)
    }

    /// Sends `text` as one masked text frame and completes with the time until the same text
    /// comes back (timed on the event loop, from just before the write to the echo's read).
    /// Call on the channel's event loop; fails after `timeout`.
    func roundTrip(_ text: String, on eventLoop: EventLoop, timeout: TimeAmount) -> EventLoopFuture<TimeAmount> {
        eventLoop.preconditionInEventLoop()
        guard let context, pendingEcho == nil else {
            return eventLoop.makeFailedFuture(BenchError(context == nil ? "connection gone" : "a round trip is already under way"))
        }
        let promise = eventLoop.makePromise(of: TimeAmount.self)
        let payload = context.channel.allocator.buffer(string: text)
        pendingEcho = (payload, .now(), promise)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: payload)),
                              promise: nil)
        let timer = eventLoop.scheduleTask(in: timeout) { [self] in
            failPendingEcho(BenchError("no echo within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.opcode == .text || frame.opcode == .binary, let pending = pendingEcho {
            let elapsed = NIODeadline.now() - pending.sentAt
            pendingEcho = nil
            if frame.fin, frame.opcode == .text, frame.unmaskedData == pending.expected {
                pending.promise.succeed(elapsed)
            } else {
                pending.promise.fail(BenchError("the echo differs from the message sent"))
            }
            return
        }
        if frame.opcode == .ping {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)),
                                  promise: nil)
            return
        }
        guard frame.opcode == .connectionClose else { return }
        var payload = frame.unmaskedData
        let code = payload.readInteger(as: UInt16.self) ?? 1005
        counters.closed(code: code)
        var reply = context.channel.allocator.buffer(capacity: 2)
        reply.writeInteger(code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose,
                                                             maskKey: .random(), data: reply)))
            .whenComplete { _ in context.close(promise: nil) }
    }
}

/// Sends the upgrade request once connected; fails the upgrade on any non-101 answer.
final class UpgradeRequestSender: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let upgraded: EventLoopPromise<Channel>

    init(head: HTTPRequestHead, upgraded: EventLoopPromise<Channel>) {
        self.head = head
        self.upgraded = upgraded
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = unwrapInboundIn(data) {
            upgraded.fail(BenchError("upgrade answered HTTP \(response.status.code)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        upgraded.fail(error)
        context.close(promise: nil)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Opens one WebSocket connection; the future completes once the upgrade is done.
func openConnection(index: Int, options: Options, group: EventLoopGroup, counters: BenchCounters) -> EventLoopFuture<Channel> {
    let eventLoop = group.next()
    let upgraded = eventLoop.makePromise(of: Channel.self)
    let upgrader = NIOWebSocketClientUpgrader(upgradePipelineHandler: { channel, _ in
        channel.pipeline.addHandler(IdleConnectionHandler(counters: counters)).map { upgraded.succeed(channel) }
    })
    var headers = HTTPHeaders()
    headers.add(name: "Host", value: "\(options.host):\(options.port)")
    headers.add(name: "Content-Length", value: "0")
    let path = options.pathTemplate.replacingOccurrences(of: "{userId}", with: index < 0 ? "warmup\(index)" : "bench-\(index)")
    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
    let connect = ClientBootstrap(group: eventLoop)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelInitializer { channel in
            let sender = UpgradeRequestSender(head: head, upgraded: upgraded)
            let upgrade: NIOHTTPClientUpgradeSendableConfiguration = (
                upgraders: [upgrader],
                completionHandler: { context in context.pipeline.removeHandler(sender, promise: nil) }
            )
            return channel.pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes,
                                                          withClientUpgrade: upgrade)
                .flatMap { channel.pipeline.addHandler(sender) }
        }
        .connect(host: options.host, port: options.port)
    connect.whenComplete { result in
        switch result {
        case .failure(let error): upgraded.fail(error)
        case .success(let channel):
            channel.closeFuture.whenComplete { _ in upgraded.fail(BenchError("closed before the upgrade")) }
        }
    }
    return upgraded.futureResult
}

/// Sends `request` to 127.0.0.1:`port`, and returns what arrives until `isComplete` holds
/// (checked after each read) or the connection closes.
func exchange(_ request: String, port: Int, options: Options, group: EventLoopGroup,
              isComplete: @escaping @Sendable (String) -> Bool) async throws -> String {
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<ByteBuffer>
        var buffer = ByteBuffer()
        let isComplete: @Sendable (String) -> Bool
        init(done: EventLoopPromise<ByteBuffer>, isComplete: @escaping @Sendable (String) -> Bool) {
            self.done = done
            self.isComplete = isComplete
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            buffer.writeBuffer(&chunk)
            if isComplete(String(buffer: buffer)) {
                done.succeed(buffer)
                context.close(promise: nil)
            }
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(buffer) }
        func errorCaught(context: ChannelHandlerContext, error: Error) { done.fail(error); context.close(promise: nil) }
    }
    let done = group.any().makePromise(of: ByteBuffer.self)
    do {
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(Collector(done: done, isComplete: isComplete)) }
            .connect(host: options.host, port: port).get()
        try await channel.writeAndFlush(channel.allocator.buffer(string: request))
    } catch {
        done.fail(error)
        throw error
    }
    var bytes = try await done.futureResult.get()
    return bytes.readString(length: bytes.readableBytes) ?? ""
}

/// Sends `GET path` with `Connection: close` to the server and returns the body.
func httpGet(_ path: String, options: Options, group: EventLoopGroup) async throws -> String {
    // The session list needs the admin token (run-connections.sh gives the server and the bench one).
    let token = ProcessInfo.processInfo.environment["WSSCALE_ADMIN_TOKEN"].map { "Authorization: Bearer \($0)\r\n" } ?? ""
    let request = "GET \(path) HTTP/1.1\r\nHost: \(options.host)\r\n\(token)Connection: close\r\n\r\n"
    let text = try await exchange(request, port: options.port, options: options, group: group) { _ in false }
    guard let split = text.range(of: "\r\n\r\n") else { throw BenchError("bad HTTP answer") }
    return String(text[split.upperBound...])
}

/// `HLEN key` in the Redis on 127.0.0.1:`port` (RESP written by hand: the bench needs no Redis client).
func redisHashLength(_ key: String, port: Int, options: Options, group: EventLoopGroup) async throws -> Int {
    let request = "*2\r\n$4\r\nHLEN\r\n$\(key.utf8.count)\r\n\(key)\r\n"
    let reply = try await exchange(request, port: port, options: options, group: group) { $0.hasSuffix("\r\n") }
    // ":N\r\n" (in a Swift String "\r\n" is one Character: trim it, do not search for "\r").
    guard reply.hasPrefix(":"), let count = Int(reply.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw BenchError("HLEN answered \(reply.prefix(80))")
    }
    return count
}

/// Number of sessions the registry lists: `HLEN` of the host's hash in Redis, or over HTTP the
/// registry endpoint's JSON objects with a `sessionId` (or an array of ids).
func registryCount(options: Options, group: EventLoopGroup) async -> Int {
    if let redisPort = options.registryRedisPort {
        return (try? await redisHashLength(options.registryKey, port: redisPort, options: options, group: group)) ?? -1
    }
    guard let body = try? await httpGet(options.registryPath, options: options, group: group) else { return -1 }
    if body.contains("\"sessionId\"") { return body.components(separatedBy: "\"sessionId\"").count - 1 }
    let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed == "[]" { return 0 }
    return trimmed.components(separatedBy: ",").count
}

func format(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}

/// The text of round-trip message `index`: `rtt <index> ` padded with `x` to `bytes` (never JSON,
/// so a chat app echoes it).
func roundTripText(_ index: Int, bytes: Int) -> String {
    let head = "rtt \(index) "
    return head + String(repeating: "x", count: max(0, bytes - head.utf8.count))
}

/// One timed round trip on `channel`: a text message and its echo.
func roundTrip(_ text: String, channel: Channel, handler: IdleConnectionHandler) async throws -> TimeAmount {
    try await channel.eventLoop.flatSubmit {
        handler.roundTrip(text, on: channel.eventLoop, timeout: .seconds(5))
    }.get()
}

/// The connection's `IdleConnectionHandler`.
func idleHandler(of channel: Channel) async throws -> IdleConnectionHandler {
    try await channel.pipeline.handler(type: IdleConnectionHandler.self).get()
}

/// The `fraction` percentile of sorted `values` (nearest rank).
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

// MARK: - Run

let options = Options.parseOrExit()
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let counters = BenchCounters()
let channels = NIOLockedValueBox<[Channel]>([])
let failures = NIOLockedValueBox<[String: Int]>([:])

// Optional warm-up: a few connections, one echo each, closed again before the first RSS reading.
if options.warmup > 0 {
    var warm: [Channel] = []
    var warmFailures = 0
    for index in 1...options.warmup {
        do {
            let channel = try await openConnection(index: -index, options: options, group: group, counters: counters).get()
            warm.append(channel)
            _ = try await roundTrip(roundTripText(index, bytes: options.rttBytes), channel: channel,
                                    handler: try await idleHandler(of: channel))
        } catch {
            warmFailures += 1
        }
    }
    for channel in warm { channel.close(promise: nil) }
    try? await Task.sleep(for: .seconds(1))
    print("warm-up:                  \(options.warmup) connections opened, one echo each, closed\(warmFailures > 0 ? " (\(warmFailures) failed)" : "")")
}

let rssBefore = options.serverPid.flatMap(residentBytes(pid:))
let cpuBefore = options.cpuPid.map(cpuSeconds(pid:))
let clock = ContinuousClock()
let started = clock.now

// Opens connections, at most `concurrency` at a time.
let nextIndex = NIOLockedValueBox(0)
await withTaskGroup(of: Void.self) { tasks in
    for _ in 0..<min(options.concurrency, options.count) {
        tasks.addTask {
            while true {
                let index: Int? = nextIndex.withLockedValue { next in
                    guard next < options.count else { return nil }
                    defer { next += 1 }
                    return next
                }
                guard let index else { return }
                do {
                    let channel = try await openConnection(index: index, options: options, group: group,
                                                           counters: counters).get()
                    channels.withLockedValue { $0.append(channel) }
                } catch {
                    failures.withLockedValue { $0["\(error)", default: 0] += 1 }
                }
            }
        }
    }
}
let opened = clock.now
let cpuAfter = options.cpuPid.map(cpuSeconds(pid:))
let openSeconds = Double((opened - started).components.attoseconds) / 1e18 + Double((opened - started).components.seconds)
let upgradedCount = channels.withLockedValue { $0.count }

// The registry: poll until it lists every connection.
let registrySource = options.registryRedisPort.map { "Redis 127.0.0.1:\($0) HLEN \(options.registryKey)" }
    ?? "GET \(options.registryPath)"
var registrySeconds: Double?
let registryDeadline = clock.now + .seconds(options.registryTimeout)
while !options.noRegistry, clock.now < registryDeadline {
    if await registryCount(options: options, group: group) >= upgradedCount {
        let elapsed = clock.now - started
        registrySeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        break
    }
    try? await Task.sleep(for: .milliseconds(options.registryRedisPort == nil ? 50 : 10))
}

// Let the server settle, then read its RSS with every connection idle.
try? await Task.sleep(for: .seconds(2))
let stillOpen = channels.withLockedValue { $0.filter(\.isActive).count }
let rssAfter = options.serverPid.flatMap(residentBytes(pid:))

print("connections asked:        \(options.count) (concurrency \(options.concurrency), to \(options.host):\(options.port))")
print("upgraded (101):           \(upgradedCount); still open after settling: \(stillOpen)")
if !counters.closes.isEmpty { print("closed by the server:     \(counters.closes.sorted { $0.key < $1.key })") }
for (reason, count) in failures.withLockedValue({ $0 }) { print("failed:                   \(count) × \(reason)") }
print("opening time:             \(format(openSeconds, 3)) s")
print("connections per second:   \(format(Double(upgradedCount) / openSeconds, 0))")
if !options.cpuPid.isEmpty {
    let used = zip(options.cpuPid, zip(cpuBefore, cpuAfter)).map { pid, times -> String in
        guard let before = times.0, let after = times.1 else { return "pid \(pid) ?" }
        return "pid \(pid) \(format(after - before, 2)) s"
    }
    print("CPU while opening:        \(used.joined(separator: ", "))")
}
if options.noRegistry {
    print("registry lists all:       not read (--no-registry)")
} else if let registrySeconds {
    print("registry lists all:       \(format(registrySeconds, 3)) s after the first connect, "
          + "\(format((registrySeconds - openSeconds) * 1000, 0)) ms after the last upgrade (\(registrySource))")
} else {
    print("registry lists all:       not within \(options.registryTimeout) s (\(registrySource))")
}
if let before = rssBefore, let after = rssAfter, stillOpen > 0 {
    print("server RSS before/after:  \(before / 1024) KiB / \(after / 1024) KiB")
    print("server RSS per idle conn: \((after - before) / stillOpen) bytes")
} else {
    print("server RSS:               not measured (pass --server-pid)")
}

// Optionally: round trips, one message at a time, taking turns on the first connections.
if options.rttMessages > 0 {
    let used = Array(channels.withLockedValue { $0.filter(\.isActive) }.prefix(options.rttConnections))
    var handlers: [IdleConnectionHandler] = []
    for channel in used {
        if let handler = try? await idleHandler(of: channel) { handlers.append(handler) }
    }
    var samples: [Double] = []  // microseconds
    var rttFailures: [String: Int] = [:]
    let rttStarted = clock.now
    if handlers.count == used.count, !used.isEmpty {
        for index in 0..<options.rttMessages {
            let turn = index % used.count
            do {
                let elapsed = try await roundTrip(roundTripText(index, bytes: options.rttBytes), channel: used[turn],
                                                  handler: handlers[turn])
                samples.append(Double(elapsed.nanoseconds) / 1000)
            } catch {
                rttFailures["\(error)", default: 0] += 1
                if rttFailures.values.reduce(0, +) >= 10 { break }  // give up: the peer does not echo
            }
        }
    } else {
        rttFailures["no open connection to send on", default: 0] += 1
    }
    let rttTime = clock.now - rttStarted
    let rttSeconds = Double(rttTime.components.seconds) + Double(rttTime.components.attoseconds) / 1e18
    print("round trips:              \(samples.count) of \(options.rttMessages) × \(options.rttBytes)-byte text, one at a time "
          + "on \(used.count) connection(s), \(format(rttSeconds, 3)) s in all")
    for (reason, count) in rttFailures { print("round trip failed:        \(count) × \(reason)") }
    if !samples.isEmpty {
        let sorted = samples.sorted()
        print("round-trip p50:           \(format(percentile(sorted, 0.50))) µs")
        print("round-trip p99:           \(format(percentile(sorted, 0.99))) µs")
        print("round-trip min/mean/max:  \(format(sorted[0])) / \(format(sorted.reduce(0, +) / Double(sorted.count))) / "
              + "\(format(sorted[sorted.count - 1])) µs")
    }
}

// Optionally keep them open (e.g. to send the server SIGTERM meanwhile), then report how they ended.
if options.holdSeconds > 0 {
    print("holding the connections for \(options.holdSeconds) s")
    fflush(nil)  // into a file too: the script watches for this line while the connections are held
    let holdStart = clock.now
    var allClosedAt: Duration?
    while clock.now - holdStart < .seconds(options.holdSeconds) {
        try? await Task.sleep(for: .milliseconds(100))
        if allClosedAt == nil, channels.withLockedValue({ $0.allSatisfy { !$0.isActive } }) {
            allClosedAt = clock.now - holdStart
            break
        }
    }
    let open = channels.withLockedValue { $0.filter(\.isActive).count }
    print("after holding:            \(open) still open; closes seen: \(counters.closes.sorted { $0.key < $1.key })")
    if let allClosedAt { print("all closed by the server: \(allClosedAt) after the hold began") }
}

// Close everything from the client side.
for channel in channels.withLockedValue({ $0 }) { channel.close(promise: nil) }
try? await Task.sleep(for: .milliseconds(500))
try? await group.shutdownGracefully()
