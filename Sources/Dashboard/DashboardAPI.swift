import Foundation
import Hummingbird
import Logging
import NIOCore
import WSScaleAPI
import WSScaleCore
import WSScaleListeners

/// The dashboard (port 8489 by default): a web page over the balancer's and the client
/// simulator's APIs, the successor of the proof of concept's ws-frontend-app.
///
/// - `GET /`: the page (``DashboardPage``); it polls `GET /api/state` every second.
/// - `GET /api/state`: ``DashboardState`` as JSON, always 200; an upstream that did not answer
///   is named in `errors`.
/// - `POST /api/connect` `{"count": N, "prefix": "user"}`: connects N new users (ids the client
///   simulator does not know yet, nor handed out by an earlier connect) → 202 `{"userIds": [...], "accepted": n, "unchanged": m}`;
///   a bad body → 400 `{"error": reason}`; the client simulator failing → 502 `{"error": reason}`.
/// - `POST /api/disconnect` `{"userIds": [...]}`: disconnects those users, same answers.
/// - `GET /health`: 200 while the dashboard runs.
///
/// Everything but the page and `/health` needs the admin token (`Authorization: Bearer`); the
/// page asks for it once and keeps it in the tab's session storage (see ``DashboardPage``).
public struct DashboardAPI: Sendable {
    /// The largest request body accepted.
    public static let maxBodyBytes = 8 << 20

    private let upstreams: DashboardUpstreams
    private let issuedIDs = IssuedUserIDs()
    private let gate: AdminGate

    /// Creates the API over the upstreams named in `settings`.
    public init(settings: DashboardSettings, logger: Logger) {
        self.upstreams = DashboardUpstreams(settings: settings, logger: logger)
        self.gate = AdminGate(token: settings.adminToken)
    }

    /// What each route asks of its caller: the page and `/health` are open; the state (it
    /// lists users) needs the admin token; connect and disconnect need it and a same-origin
    /// JSON request.
    public static func access(_ method: HTTPRequest.Method, _ path: String) -> AdminAccess {
        switch path {
        case "/", "/health": return .open
        default: return method == .get || method == .head ? .credential : .mutation
        }
    }

    /// The routes, for an application or a test.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AdminGateMiddleware(gate: gate, access: Self.access))
        let upstreams = self.upstreams
        let issuedIDs = self.issuedIDs
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/api/state") { _, _ -> Response in
            Self.json(.ok, await upstreams.state())
        }
        router.post("/api/connect") { request, _ -> Response in
            try await Self.withBody(request) { body in
                let connect = try ConnectRequest(json: body)
                let known = Set(try await upstreams.users().users.map(\.userId))
                let ids = issuedIDs.issue(count: connect.count, prefix: connect.prefix, known: known)
                return try await Self.batch(.connect, ids, upstreams)
            }
        }
        router.post("/api/disconnect") { request, _ -> Response in
            try await Self.withBody(request) { body in
                try await Self.batch(.disconnect, try BatchRequest(json: body).userIDs, upstreams)
            }
        }
        router.get("/health") { _, _ -> Response in
            Self.json(.ok, ["status": "ok"])
        }
        return router
    }

    /// An application serving the dashboard, to run as a `Service`.
    /// - Parameters:
    ///   - host: the address to bind (`127.0.0.1` by default in the command).
    ///   - port: the port (8489 by default in the command).
    ///   - limits: the listener's limits (`HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS`).
    ///   - eventLoopGroup: the loops it runs on (NIO's shared ones by default; a test gives it its own).
    ///   - onServerRunning: called with the listening channel once it listens (its port when `port` is 0).
    ///   - logger: the logger for requests and errors.
    public func makeApplication(host: String, port: Int, limits: HTTPListenerLimits = HTTPListenerLimits(),
                                eventLoopGroup: EventLoopGroupProvider = .singleton,
                                onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
                                logger: Logger) -> some ApplicationProtocol {
        Application(router: makeRouter(),
                    server: .http1(within: limits, listener: "dashboard", logger: logger),
                    configuration: .init(address: .hostname(host, port: port), serverName: "wsscale-dashboard",
                                         backlog: HTTPListenerLimits.backlog),
                    onServerRunning: onServerRunning, eventLoopGroupProvider: eventLoopGroup, logger: logger)
    }

    /// What `POST /api/connect` and `/api/disconnect` answer.
    struct BatchAnswer: Codable {
        var userIds: [String]
        var accepted: Int?
        var unchanged: Int?
    }

    private static func batch(_ verb: DashboardUpstreams.BatchVerb, _ ids: [String],
                              _ upstreams: DashboardUpstreams) async throws -> Response {
        let answer = try await upstreams.batch(verb, userIDs: ids)
        let counts = (try? JSONDecoder().decode([String: Int].self, from: answer)) ?? [:]
        return json(.accepted, BatchAnswer(userIds: ids, accepted: counts["accepted"], unchanged: counts["unchanged"]))
    }

    /// Reads the body and runs `handle`, turning its rejections into 400 and upstream failures
    /// into 502, each with `{"error": reason}`.
    private static func withBody(_ request: Request, _ handle: ([UInt8]) async throws -> Response) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return json(.contentTooLarge, ["error": "body is larger than \(maxBodyBytes) bytes"])
        }
        do {
            return try await handle(Array(body.readableBytesView))
        } catch let rejection as ConnectRequest.Rejection {
            return json(.badRequest, ["error": rejection.reason])
        } catch let rejection as BatchRequest.Rejection {
            return json(.badRequest, ["error": rejection.reason])
        } catch let failure as UpstreamFailure {
            return json(.badGateway, ["error": failure.description])
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
