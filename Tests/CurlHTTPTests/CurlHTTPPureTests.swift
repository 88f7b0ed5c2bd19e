import Foundation
import Testing
import WSScaleCore
@testable import WSScaleCurlHTTP

/// The pure parts of the shared HTTP client: addresses, queries, line splitting, backoff.
@Suite struct CurlHTTPPureTests {
    @Test func readsDockerHostStyleAddresses() throws {
        #expect(try ServiceAddress(parsing: "unix:///var/run/docker.sock") == .unixSocket(path: "/var/run/docker.sock"))
        #expect(try ServiceAddress(parsing: "/run/podman/podman.sock") == .unixSocket(path: "/run/podman/podman.sock"))
        #expect(try ServiceAddress(parsing: "tcp://127.0.0.1:2375") == .tcp(host: "127.0.0.1", port: 2375))
        #expect(try ServiceAddress(parsing: "tcp://[::1]:2375/") == .tcp(host: "::1", port: 2375))
        #expect(ServiceAddress.tcp(host: "::1", port: 2375).urlPrefix == "http://[::1]:2375")
        #expect(ServiceAddress.unixSocket(path: "/x.sock").urlPrefix == "http://localhost")
    }

    @Test(arguments: ["unix://relative.sock", "tcp://127.0.0.1", "tcp://:80", "tcp://h:99999", "ssh://host", ""])
    func rejectsBadAddressesNamingTheVariable(_ text: String) {
        #expect {
            try ServiceAddress(parsing: text, variable: "CONTAINER_HOST")
        } throws: { error in
            "\(error)".hasPrefix("CONTAINER_HOST=\(text): ")
        }
    }

    @Test func encodesQueriesSortedAndEscaped() {
        #expect(HTTPQuery.encode([:]) == "")
        #expect(HTTPQuery.encode(["t": "10", "all": "1"]) == "all=1&t=10")
        #expect(HTTPQuery.encode(["filters": #"{"label":["wsscale.pool=a b"]}"#])
                == "filters=%7B%22label%22%3A%5B%22wsscale.pool%3Da%20b%22%5D%7D")
    }

    @Test func splitsNewlineDelimitedJSONWhateverTheChunks() {
        var splitter = JSONLineSplitter()
        #expect(splitter.append(Data(#"{"a":1}"#.utf8)).isEmpty)
        #expect(splitter.append(Data("\n{\"b\":".utf8)) == [Data(#"{"a":1}"#.utf8)])
        #expect(splitter.append(Data("2}\n\n{\"c\":3}\r\n".utf8)) == [Data(#"{"b":2}"#.utf8), Data("{\"c\":3}\r".utf8)])
    }

    @Test func backoffDoublesUpToItsCapAndStops() {
        let backoff = RetryBackoff(attempts: 5, initialDelay: .milliseconds(100), maximumDelay: .milliseconds(300))
        #expect((1...5).map { backoff.delay(after: $0) } == [.milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(300), nil])
        #expect(RetryBackoff(attempts: 1).delay(after: 1) == nil)
    }

    @Test func backoffRetriesOnlyTransientErrors() async throws {
        struct Transient: Error {}
        struct Final: Error {}
        let backoff = RetryBackoff(attempts: 3, initialDelay: .milliseconds(1))
        var calls = 0
        let value = try await backoff.run(isTransient: { $0 is Transient }) { () async throws -> Int in
            calls += 1
            if calls < 3 { throw Transient() }
            return calls
        }
        #expect(value == 3)
        calls = 0
        await #expect(throws: Final.self) {
            try await backoff.run(isTransient: { $0 is Transient }) { () async throws -> Int in
                calls += 1
                throw Final()
            }
        }
        #expect(calls == 1)
    }
}
