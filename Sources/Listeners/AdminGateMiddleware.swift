import Foundation
import Hummingbird
import WSScaleCore

/// Applies the admin gate (`AdminGate`) to a Hummingbird application: each request gets the
/// access its route asks for, and a refused one gets the gate's status and reason as JSON
/// `{"error": reason}` (with `WWW-Authenticate: Bearer` on 401) before any handler runs.
public struct AdminGateMiddleware<Context: RequestContext>: RouterMiddleware {
    /// What a request's method and path ask of its caller.
    public typealias AccessRule = @Sendable (_ method: HTTPRequest.Method, _ path: String) -> AdminAccess

    private let gate: AdminGate
    private let access: AccessRule

    /// A middleware for `gate`, with `access` deciding what each route asks for.
    public init(gate: AdminGate, access: @escaping AccessRule) {
        self.gate = gate
        self.access = access
    }

    /// Refuses the request, or passes it on.
    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        let headers = request.headers
        let length = headers[.contentLength].flatMap { Int($0) }
        let caller = AdminRequest(authorization: headers[.authorization], origin: headers[.origin],
                                  host: request.head.authority, contentType: headers[.contentType],
                                  hasBody: (length ?? 0) > 0 || (length == nil && headers[.transferEncoding] != nil))
        guard let refusal = gate.refusal(for: caller, access: access(request.method, request.uri.path)) else {
            return try await next(request, context)
        }
        var responseHeaders: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if refusal.asksForCredential { responseHeaders[.wwwAuthenticate] = #"Bearer realm="wsscale""# }
        let body = (try? JSONEncoder().encode(["error": refusal.reason])) ?? Data(#"{"error":"refused"}"#.utf8)
        return Response(status: .init(code: refusal.status), headers: responseHeaders,
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
