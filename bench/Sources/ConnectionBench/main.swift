// ConnectionBench: opens N idle WebSocket connections to one `wsscale server` on loopback and
// prints the opening rate, the server's RSS per idle connection and the time until the
// registry lists them all. See bench/README.md.
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

    func validate() throws {
        guard host.hasPrefix("127.") else { throw ValidationError("--host must be a loopback address (127.x.x.x), not \(host)") }
        for (flag, value) in [("--port", port), ("--registry-redis-port", registryRedisPort ?? 1)] where !(1...65535).contains(value) {
            throw ValidationError("\(flag) must be a port (1-65535), not \(value)")
        }
        for (flag, value) in [("--count", count), ("--concurrency", concurrency), ("--server-pid", Int(serverPid ?? 1))] where value <= 0 {
            throw ValidationError("\(flag) needs a positive number, not \(value)")
        }
        guard registryTimeout > 0, holdSeconds >= 0 else { throw ValidationError("--registry-timeout must be positive and --hold not negative") }
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
final class IdleConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let counters: BenchCounters

    init(counters: BenchCounters) {
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
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
    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/v1/websocket/bench-\(index)", headers: headers)
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

// MARK: - Run

let options = Options.parseOrExit()
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let counters = BenchCounters()
let channels = NIOLockedValueBox<[Channel]>([])
let failures = NIOLockedValueBox<[String: Int]>([:])

let rssBefore = options.serverPid.flatMap(residentBytes(pid:))
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
let openSeconds = Double((opened - started).components.attoseconds) / 1e18 + Double((opened - started).components.seconds)
let upgradedCount = channels.withLockedValue { $0.count }

// The registry: poll until it lists every connection.
let registrySource = options.registryRedisPort.map { "Redis 127.0.0.1:\($0) HLEN \(options.registryKey)" }
    ?? "GET \(options.registryPath)"
var registrySeconds: Double?
let registryDeadline = clock.now + .seconds(options.registryTimeout)
while clock.now < registryDeadline {
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
if let registrySeconds {
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
