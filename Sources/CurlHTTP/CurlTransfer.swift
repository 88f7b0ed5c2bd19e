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

/// Runs one `CurlRequest` to completion on the calling thread, which must be a thread
/// that may block (never an event loop). The transfer polls every 100 ms for
/// cancellation, so a stream with no traffic still stops soon after it is cancelled.
///
/// With `onChunk`, a 2xx body is handed over chunk by chunk as it arrives (streaming);
/// otherwise, or when the status is not 2xx, the body is collected and returned.
final class CurlTransfer {
    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    private let request: CurlRequest
    private let cancelled: NIOLockedValueBox<Bool>
    private let onChunk: ((Data) -> Void)?
    private var headers: [String: String] = [:]
    private var body = Data()
    private var bodyStarted = false
    private var streamingBody = false
    private var handle: UnsafeMutableRawPointer?

    /// Prepares a transfer.
    /// - Parameters:
    ///   - request: what to send.
    ///   - cancelled: set to `true` (from any thread) to abort the transfer.
    ///   - onChunk: receives the body of a 2xx answer as it arrives, on the transfer's thread.
    init(_ request: CurlRequest, cancelled: NIOLockedValueBox<Bool>, onChunk: ((Data) -> Void)? = nil) {
        self.request = request
        self.cancelled = cancelled
        self.onChunk = onChunk
    }

    /// Performs the exchange (blocking).
    /// - Returns: the status, headers and, unless streamed, the body.
    func run() -> Result<HTTPAPIResponse, CurlFailure> {
        _ = Self.globalInit
        guard let easy = curl_easy_init() else {
            return .failure(CurlFailure(code: CURLE_FAILED_INIT, message: "curl_easy_init failed", cancelled: false))
        }
        handle = easy
        defer { curl_easy_cleanup(easy); handle = nil }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        headerList = curl_slist_append(headerList, "Expect:")
        headerList = curl_slist_append(headerList, "Accept: application/json")
        if request.body != nil {
            headerList = curl_slist_append(headerList, "Content-Type: \(request.contentType)")
        }
        if let token = request.bearerToken {
            headerList = curl_slist_append(headerList, "Authorization: Bearer \(token)")
        }
        defer { curl_slist_free_all(headerList) }

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
            return .failure(CurlFailure(code: setup, message: "curl setup: \(String(cString: curl_easy_strerror(setup)))", cancelled: false))
        }

        let result = performCancellably(easy)
        if result != CURLE_OK {
            let wasCancelled = cancelled.withLockedValue { $0 }
            let message = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(result))
            return .failure(CurlFailure(code: result, message: wasCancelled ? "cancelled" : message, cancelled: wasCancelled))
        }
        return .success(HTTPAPIResponse(status: responseCode(easy), headers: headers, body: body))
    }

    /// Drives the transfer through a private multi handle, so that it can be cancelled
    /// while no byte moves.
    private func performCancellably(_ easy: UnsafeMutableRawPointer) -> CURLcode {
        guard let multi = curl_multi_init() else { return CURLE_FAILED_INIT }
        defer { curl_multi_cleanup(multi) }
        guard curl_multi_add_handle(multi, easy) == CURLM_OK else { return CURLE_FAILED_INIT }
        defer { curl_multi_remove_handle(multi, easy) }
        var running: Int32 = 1
        while true {
            guard curl_multi_perform(multi, &running) == CURLM_OK else { return CURLE_RECV_ERROR }
            if running == 0 { break }
            if cancelled.withLockedValue({ $0 }) { return CURLE_ABORTED_BY_CALLBACK }
            _ = curl_multi_poll(multi, nil, 0, 100, nil)
        }
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            if message.pointee.msg == CURLMSG_DONE { return message.pointee.data.result }
        }
        return CURLE_RECV_ERROR
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
