import CCurl
import CCurlShim
import CHiredis
import CSystemd
import Testing

/// Proves each system library links and answers a real call.
@Suite struct SystemLibraryTests {
    @Test func hiredisFormatsACommand() throws {
        var args: [UnsafePointer<CChar>?] = []
        let words = ["SET", "key", "value"]
        let cStrings = words.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        args = cStrings.map { UnsafePointer($0) }
        var lengths = words.map { $0.utf8.count }
        var target: UnsafeMutablePointer<CChar>?
        let length = redisFormatCommandArgv(&target, Int32(words.count), &args, &lengths)
        defer { redisFreeCommand(target) }
        #expect(length > 0)
        let text = String(cString: target!)
        #expect(text == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
    }

    @Test func curlReportsItsVersionAndTakesOptions() throws {
        let version = String(cString: curl_version())
        #expect(version.hasPrefix("libcurl/"))
        let handle = curl_easy_init()
        #expect(handle != nil)
        defer { curl_easy_cleanup(handle) }
        #expect(wsscale_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, 1000) == CURLE_OK)
        #expect(wsscale_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, "/nonexistent.sock") == CURLE_OK)
    }

    @Test func systemdSeesWhetherItRunsUnderSystemd() throws {
        // Outside a systemd service NOTIFY_SOCKET is unset and sd_notify answers 0 ("nothing to do").
        let result = sd_notify(0, "STATUS=test")
        #expect(result >= 0)
        var bus: OpaquePointer?
        // sd_bus_new allocates a bus object without connecting: proves the library links.
        #expect(sd_bus_new(&bus) >= 0)
        sd_bus_unref(bus)
    }
}
