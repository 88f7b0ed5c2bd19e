import Foundation
import WSScaleCore
import Logging
import NIOConcurrencyHelpers

/// An HTTP/1.1 client for local APIs (the Docker Engine API, Podman's API) over a unix
/// socket or TCP, on libcurl. Knows nothing of any particular API.
///
/// Every exchange runs on the process's one libcurl thread (`CurlTransferLoop`, one multi
/// handle for all transfers), never on an event loop or Swift's cooperative pool, and is
/// bridged to `async`; cancelling the calling task aborts the exchange at once.
public struct CurlHTTPClient: Sendable {
    /// Where the API listens.
    public let address: ServiceAddress
    /// Limit for a whole request/response exchange (streams have none).
    public var timeout: Duration
    /// Limit for connecting.
    public var connectTimeout: Duration
    /// Sent as `Authorization: Bearer <token>` on every request, when set.
    public var adminToken: AdminToken?
    private let logger: Logger

    /// Creates a client.
    /// - Parameters:
    ///   - address: the API's unix socket or TCP address.
    ///   - timeout: default limit for a whole exchange.
    ///   - connectTimeout: limit for connecting.
    ///   - adminToken: the credential sent on every request, if any.
    ///   - logger: where exchanges are logged (trace level).
    public init(address: ServiceAddress, timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(5),
                adminToken: AdminToken? = nil, logger: Logger) {
        self.adminToken = adminToken
        self.address = address
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// Sends one request and returns the whole answer, whatever its status.
    /// - Parameters:
    ///   - method: `GET`, `POST`, `DELETE` …
    ///   - path: the path, starting with `/` (`/v1.41/containers/json`).
    ///   - query: query parameters, unencoded.
    ///   - body: a JSON body, if any (`POST` without a body sends `Content-Length: 0`).
    ///   - timeout: limit for this exchange instead of the client's.
    /// - Returns: status, headers and body.
    /// - Throws: `HTTPAPIError` when no answer came (socket missing, refused, timeout, cancelled).
    public func request(_ method: String, _ path: String, query: [String: String] = [:],
                        body: Data? = nil, timeout: Duration? = nil) async throws -> HTTPAPIResponse {
        let request = makeRequest(method, path, query: query, body: body, timeout: timeout ?? self.timeout)
        let cancelled = NIOLockedValueBox(false)
        let address = self.address
        logger.trace("http request", metadata: ["method": "\(method)", "url": "\(request.url)"])
        let result: Result<HTTPAPIResponse, CurlFailure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                CurlTransferLoop.shared.submit(CurlTransfer(request, cancelled: cancelled) { continuation.resume(returning: $0) })
            }
        } onCancel: {
            cancelled.withLockedValue { $0 = true }
            CurlTransferLoop.shared.wake()
        }
        switch result {
        case let .success(response):
            logger.trace("http response", metadata: ["url": "\(request.url)", "status": "\(response.status)"])
            return response
        case let .failure(failure):
            throw HTTPAPIError(message: failure.message, address: address, notSent: failure.notSent, cancelled: failure.cancelled)
        }
    }

    /// Opens a streaming request (an events endpoint) and yields the body in chunks as they
    /// arrive. The stream finishes when the server ends the body, and throws
    /// `HTTPAPIError` (with `status`) when the server answers with a non-2xx status or
    /// the connection fails. Ending the iteration (or cancelling its task) closes the connection.
    /// - Parameters:
    ///   - method: usually `GET`.
    ///   - path: the path, starting with `/`.
    ///   - query: query parameters, unencoded.
    /// - Returns: the body's chunks, in order.
    public func stream(_ method: String = "GET", _ path: String, query: [String: String] = [:]) -> AsyncThrowingStream<Data, Error> {
        let request = makeRequest(method, path, query: query, body: nil, timeout: nil)
        let cancelled = NIOLockedValueBox(false)
        let address = self.address
        logger.trace("http stream", metadata: ["method": "\(method)", "url": "\(request.url)"])
        return AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in
                cancelled.withLockedValue { $0 = true }
                CurlTransferLoop.shared.wake()
            }
            let transfer = CurlTransfer(request, cancelled: cancelled) { chunk in
                continuation.yield(chunk)
            } onCompletion: { result in
                switch result {
                case let .success(response) where response.isSuccess:
                    continuation.finish()
                case let .success(response):
                    continuation.finish(throwing: HTTPAPIError(message: response.text.trimmingCharacters(in: .whitespacesAndNewlines),
                                                               address: address, status: response.status))
                case let .failure(failure):
                    continuation.finish(throwing: HTTPAPIError(message: failure.message, address: address,
                                                               notSent: failure.notSent, cancelled: failure.cancelled))
                }
            }
            CurlTransferLoop.shared.submit(transfer)
        }
    }

    private func makeRequest(_ method: String, _ path: String, query: [String: String], body: Data?, timeout: Duration?) -> CurlRequest {
        let encoded = HTTPQuery.encode(query)
        let url = address.urlPrefix + path + (encoded.isEmpty ? "" : "?" + encoded)
        var socketPath: String?
        if case let .unixSocket(path) = address { socketPath = path }
        return CurlRequest(method: method, url: url, unixSocketPath: socketPath, body: body,
                           timeout: timeout, connectTimeout: connectTimeout, bearerToken: adminToken?.value)
    }
}
