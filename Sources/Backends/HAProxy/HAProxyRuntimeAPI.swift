import NIOCore
import NIOPosix
import WSScaleCore

/// A client of HAProxy's runtime API (the "stats socket" CLI).
///
/// Each command gets its own connection: HAProxy answers and closes (non-interactive mode),
/// so answers can never be mixed up between concurrent callers. All I/O runs on a SwiftNIO
/// event loop; no thread blocks.
public struct HAProxyRuntimeAPI: Sendable {
    /// Where the API listens.
    public var address: ServiceAddress
    /// How long one command may take, connecting included.
    public var timeout: Duration
    private let eventLoopGroup: any EventLoopGroup

    /// Creates a client.
    /// - Parameters:
    ///   - address: the API's socket.
    ///   - timeout: how long one command may take.
    ///   - eventLoopGroup: where the connections run.
    public init(address: ServiceAddress, timeout: Duration = .seconds(2),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.address = address
        self.timeout = timeout
        self.eventLoopGroup = eventLoopGroup
    }

    /// Sends one command and returns HAProxy's whole answer.
    /// - Parameter command: one runtime API command, e.g. `show info`.
    /// - Returns: the answer, trailing blank line included.
    /// - Throws: `HAProxyError` when the socket cannot be reached or the answer does not
    ///   come within `timeout`.
    public func execute(_ command: String) async throws -> String {
        if let problem = Self.commandProblem(command) { throw HAProxyError(problem, command: command) }
        let loop = eventLoopGroup.next()
        let answer = loop.makePromise(of: String.self)
        let limit = TimeAmount(timeout)
        let timer = loop.scheduleTask(in: limit) {
            answer.fail(HAProxyError("no answer from the runtime API at \(address) within \(timeout)", command: command))
        }
        defer { timer.cancel() }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AnswerUntilCloseHandler(answer: answer))
                }
            }
        let channel: any Channel
        do {
            switch address {
            case .unixSocket(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            let failure = HAProxyError("cannot reach the runtime API at \(address): \(error)", command: command)
            answer.fail(failure)
            throw failure
        }
        channel.writeAndFlush(channel.allocator.buffer(string: command + "\n"), promise: nil)
        do {
            let text = try await answer.futureResult.get()
            channel.close(promise: nil)
            return text
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Why `command` must not be sent, or `nil`: it must be one command on one line, so no
    /// control character (newline, tab, …) and no `;` (the runtime API's command separator),
    /// which a name taken from the configuration could otherwise smuggle in.
    static func commandProblem(_ command: String) -> String? {
        if command.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "a command must be one line without control characters"
        }
        if command.contains(";") { return "a command must not contain ';' (it would send two)" }
        return nil
    }

    /// `show info` as name → value pairs (`Pid`, `Uptime_sec`, `Start_time_sec`, …).
    public func info() async throws -> [String: String] {
        HAProxyAnswers.parseInfo(try await execute("show info"))
    }

    /// Which HAProxy process answers: changes when HAProxy restarts, which drops every
    /// dynamic server, so the control loop must add them again.
    public func processIdentity() async throws -> HAProxyProcessIdentity {
        let info = try await info()
        guard let identity = HAProxyProcessIdentity(info: info) else {
            throw HAProxyError("show info has no Pid / Start_time_sec", command: "show info")
        }
        return identity
    }
}

/// One running HAProxy process, as `show info` describes it.
public struct HAProxyProcessIdentity: Sendable, Hashable, CustomStringConvertible {
    /// `Pid`.
    public var pid: Int
    /// `Start_time_sec`: when the process started (Unix time).
    public var startTime: Int
    /// `Uptime_sec` when it was asked (not part of the identity's equality).
    public var uptimeSeconds: Int

    /// Creates an identity.
    public init(pid: Int, startTime: Int, uptimeSeconds: Int) {
        self.pid = pid
        self.startTime = startTime
        self.uptimeSeconds = uptimeSeconds
    }

    /// Reads the identity from `show info`'s fields.
    public init?(info: [String: String]) {
        guard let pid = info["Pid"].flatMap(Int.init) else { return nil }
        let uptime = info["Uptime_sec"].flatMap(Int.init) ?? 0
        // Start_time_sec exists since 2.5; derive it from the uptime on older versions.
        guard let start = info["Start_time_sec"].flatMap(Int.init) else { return nil }
        self.init(pid: pid, startTime: start, uptimeSeconds: uptime)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.pid == rhs.pid && lhs.startTime == rhs.startTime
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(pid)
        hasher.combine(startTime)
    }

    public var description: String { "pid \(pid) started at \(startTime)" }
}

/// Collects everything until HAProxy closes the connection.
private final class AnswerUntilCloseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let answer: EventLoopPromise<String>
    private var received = ""

    init(answer: EventLoopPromise<String>) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.succeed(received)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer.fail(HAProxyError("runtime API connection failed: \(error)"))
        context.close(promise: nil)
    }
}
