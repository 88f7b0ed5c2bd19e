import CCurl
import CCurlShim
import Foundation
import NIOConcurrencyHelpers

/// One HTTP exchange described for libcurl.
struct CurlRequest: Sendable {
    /// `GET`, `POST`, `DELETE` …
    var method: String
    /// The full URL (`http://localhost/v1.41/_ping` over a unix socket).
    var url: String
    /// The unix socket to connect to instead of the URL's host, if any.
    var unixSocketPath: String?
    /// The request body, sent with `contentType`.
    var body: Data?
    /// The body's media type.
    var contentType: String = "application/json"
    /// Limit for the whole exchange; `nil` for none (streams).
    var timeout: Duration?
    /// Limit for connecting.
    var connectTimeout: Duration = .seconds(5)
    /// Sent as `Authorization: Bearer <token>` (visible ASCII only: `AdminToken`'s rule).
    var bearerToken: String?
}

/// Why a transfer produced no complete answer.
struct CurlFailure: Error {
    /// curl's result code.
    var code: CURLcode
    /// curl's message (its error buffer, or its text for `code`).
    var message: String
    /// Whether the caller cancelled it.
    var cancelled: Bool
    /// Whether the request cannot have reached the server.
    var notSent: Bool { code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST }
}

/// One `CurlRequest` driven by the process's `CurlTransferLoop`: `prepare` makes its easy
/// handle, the loop runs it with every other transfer on one thread, `complete` hands the
/// answer over and frees what `prepare` made. Everything but `init` and the cancellation
/// flag is used on the loop's thread only.
///
/// With `onChunk`, a 2xx body is handed over chunk by chunk as it arrives (streaming);
/// otherwise, or when the status is not 2xx, the body is collected and returned.
final class CurlTransfer: @unchecked Sendable {
    static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    private let request: CurlRequest
    private let cancelled: NIOLockedValueBox<Bool>
    private let onChunk: ((Data) -> Void)?
    private let onCompletion: (Result<HTTPAPIResponse, CurlFailure>) -> Void
    private var headers: [String: String] = [:]
    private var body = Data()
    private var bodyStarted = false
    private var streamingBody = false
    private var handle: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var errorBuffer: UnsafeMutablePointer<CChar>?

    /// Prepares a transfer.
    /// - Parameters:
    ///   - request: what to send.
    ///   - cancelled: set to `true` (from any thread, then `CurlTransferLoop.wake()`) to abort it.
    ///   - onChunk: receives the body of a 2xx answer as it arrives, on the loop's thread;
    ///     it must not block.
    ///   - onCompletion: receives the outcome, once, on the loop's thread; it must not block.
    init(_ request: CurlRequest, cancelled: NIOLockedValueBox<Bool>, onChunk: ((Data) -> Void)? = nil,
         onCompletion: @escaping (Result<HTTPAPIResponse, CurlFailure>) -> Void) {
        self.request = request
        self.cancelled = cancelled
        self.onChunk = onChunk
        self.onCompletion = onCompletion
    }

    /// Whether the caller gave the transfer up.
    var isCancelled: Bool { cancelled.withLockedValue { $0 } }

    /// Makes the easy handle for the request.
    /// - Returns: the handle to add to the multi handle, or why none could be made (then the
    ///   transfer is complete already).
    func prepare() -> UnsafeMutableRawPointer? {
        _ = Self.globalInit
        guard let easy = curl_easy_init() else {
            complete(CURLE_FAILED_INIT, message: "curl_easy_init failed")
            return nil
        }
        handle = easy
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer = errorBuffer

        headerList = curl_slist_append(headerList, "Expect:")
        headerList = curl_slist_append(headerList, "Accept: application/json")
        if request.body != nil {
            headerList = curl_slist_append(headerList, "Content-Type: \(request.contentType)")
        }
        if let token = request.bearerToken {
            headerList = curl_slist_append(headerList, "Authorization: Bearer \(token)")
        }

        let context = Unmanaged.passUnretained(self).toOpaque()
        var setup = CURLE_OK
        func set(_ code: CURLcode) { if setup == CURLE_OK { setup = code } }
        set(wsscale_curl_setopt_string(easy, CURLOPT_URL, request.url))
        if let path = request.unixSocketPath {
            set(wsscale_curl_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, path))
        }
        set(wsscale_curl_setopt_string(easy, CURLOPT_NOPROXY, "*"))
        set(wsscale_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(wsscale_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(wsscale_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout)))
        set(wsscale_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.timeout.map(Self.milliseconds) ?? 0))
        set(wsscale_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))
        set(wsscale_curl_setopt_write_function(easy, curlWriteBody))
        set(wsscale_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
        set(wsscale_curl_setopt_header_function(easy, curlWriteHeader))
        set(wsscale_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, context))
        switch (request.method, request.body) {
        case ("GET", nil):
            set(wsscale_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case (_, let body?):
            set(wsscale_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count))
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes now; an empty body still needs a valid pointer.
                var empty: UInt8 = 0
                let pointer = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? withUnsafeMutableBytes(of: &empty) { $0.baseAddress! }
                set(wsscale_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer))
            }
            set(wsscale_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
        case ("POST", nil), ("PUT", nil):
            // An empty body with Content-Length: 0, as proxies expect for POST.
            set(wsscale_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, 0))
            set(wsscale_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""))
            set(wsscale_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
        case (_, nil):
            set(wsscale_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
        }
        guard setup == CURLE_OK else {
            complete(setup, message: "curl setup: \(String(cString: curl_easy_strerror(setup)))")
            return nil
        }
        return easy
    }

    /// Hands the outcome over and frees the handle; the loop has taken it off its multi
    /// handle before.
    /// - Parameters:
    ///   - result: curl's result for the transfer.
    ///   - message: the failure's text instead of curl's, if any.
    func complete(_ result: CURLcode, message: String? = nil) {
        let outcome: Result<HTTPAPIResponse, CurlFailure>
        if result == CURLE_OK, let handle {
            outcome = .success(HTTPAPIResponse(status: responseCode(handle), headers: headers, body: body))
        } else {
            let wasCancelled = isCancelled
            let text = message
                ?? errorBuffer.flatMap { $0.pointee != 0 ? String(cString: $0) : nil }
                ?? String(cString: curl_easy_strerror(result))
            outcome = .failure(CurlFailure(code: result, message: wasCancelled ? "cancelled" : text, cancelled: wasCancelled))
        }
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
        curl_slist_free_all(headerList)
        headerList = nil
        errorBuffer?.deallocate()
        errorBuffer = nil
        onCompletion(outcome)
    }

    private func responseCode(_ easy: UnsafeMutableRawPointer) -> Int {
        var code = 0
        _ = wsscale_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// Called by curl for each piece of body; returns how much was consumed.
    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if cancelled.withLockedValue({ $0 }) { return 0 }
        if !bodyStarted {
            bodyStarted = true
            if let handle, onChunk != nil {
                streamingBody = (200..<300).contains(responseCode(handle))
            }
        }
        if streamingBody, let onChunk {
            onChunk(Data(bytes))
        } else {
            body.append(contentsOf: bytes)
        }
        return bytes.count
    }

    /// Called by curl for each header line, the status line included.
    fileprivate func receiveHeader(_ bytes: UnsafeRawBufferPointer) -> Int {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = [:]  // a new answer begins (after 100 Continue or a redirect)
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return bytes.count
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

private let curlWriteBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlWriteHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
}
