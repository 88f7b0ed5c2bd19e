import Foundation
import WSScaleCore

/// One answer of an HTTP API: status, headers (names lowercased) and the whole body.
public struct HTTPAPIResponse: Sendable, Equatable {
    /// The HTTP status code.
    public var status: Int
    /// Response headers; names lowercased, the last value wins when a name repeats.
    public var headers: [String: String]
    /// The body as received.
    public var body: Data

    /// Creates a response.
    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no HTTP answer (connection refused, socket missing, timeout …), or
/// why a stream ended with an error status.
public struct HTTPAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed, in curl's words or the server's.
    public var message: String
    /// The address of the API.
    public var address: ServiceAddress
    /// The HTTP status when the server answered with an error to a streaming request.
    public var status: Int?
    /// Whether the request cannot have reached the server (connect failed), so that
    /// repeating it is safe whatever its method.
    public var notSent: Bool
    /// Whether the caller cancelled the transfer.
    public var cancelled: Bool

    /// Creates an error.
    public init(message: String, address: ServiceAddress, status: Int? = nil, notSent: Bool = false, cancelled: Bool = false) {
        self.message = message
        self.address = address
        self.status = status
        self.notSent = notSent
        self.cancelled = cancelled
    }

    public var description: String { "\(address): \(message)" }
}
