import CCurl
import CCurlShim
import Foundation
import NIOConcurrencyHelpers

/// The one thread that runs every libcurl transfer of the process, through one multi handle:
/// a burst of requests to the engine's API is many easy handles on that thread, not a thread
/// each. Transfers are submitted from any thread; the loop adds them, lets curl move their
/// bytes (`curl_multi_perform`), waits for their sockets or the next curl timer
/// (`curl_multi_poll`), hands over the finished ones, and drops the cancelled ones. A submit
/// or a cancellation wakes it (`curl_multi_wakeup`), so neither waits for a poll to end.
///
/// Callbacks (body chunks, completions) run on the loop's thread and must not block: the
/// client's only hand results to a continuation or an `AsyncStream`.
final class CurlTransferLoop: @unchecked Sendable {
    /// The process's loop, started on first use.
    static let shared = CurlTransferLoop()
    /// The loop thread's name (`/proc/<pid>/task/*/comm`).
    static let threadName = "wsscale-curl"

    private let multi: UnsafeMutableRawPointer
    /// Transfers submitted and not yet added (any thread).
    private let submitted = NIOLockedValueBox<[CurlTransfer]>([])
    /// Transfers on the multi handle, by easy handle (the loop's thread only).
    private var running: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    private init() {
        _ = CurlTransfer.globalInit
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: libcurl cannot allocate a multi handle") }
        self.multi = multi
        Thread.detachNewThread { [self] in
            wsscale_set_current_thread_name(Self.threadName)
            self.run()
        }
    }

    /// Hands a transfer to the loop; its completion runs on the loop's thread.
    func submit(_ transfer: CurlTransfer) {
        submitted.withLockedValue { $0.append(transfer) }
        wake()
    }

    /// Makes the loop look again now (after a transfer's cancellation flag was set).
    func wake() {
        _ = curl_multi_wakeup(multi)
    }

    private func run() {
        while true {
            for transfer in submitted.withLockedValue({ pending in defer { pending = [] }; return pending }) {
                guard let easy = transfer.prepare() else { continue }
                guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
                    transfer.complete(CURLE_FAILED_INIT, message: "curl_multi_add_handle failed")
                    continue
                }
                running[easy] = transfer
            }
            var stillRunning: Int32 = 0
            _ = curl_multi_perform(multi, &stillRunning)
            var finished: [(UnsafeMutableRawPointer, CURLcode)] = []
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                if message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle {
                    finished.append((easy, message.pointee.data.result))
                }
            }
            for (easy, result) in finished { finish(easy, result) }
            for (easy, transfer) in running where transfer.isCancelled { finish(easy, CURLE_ABORTED_BY_CALLBACK) }
            // Waits for a socket, curl's next timer, a wake, or 1 s at most.
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func finish(_ easy: UnsafeMutableRawPointer, _ result: CURLcode) {
        guard let transfer = running.removeValue(forKey: easy) else { return }
        _ = curl_multi_remove_handle(multi, easy)
        transfer.complete(result)
    }
}
