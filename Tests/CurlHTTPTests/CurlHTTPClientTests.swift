import Foundation
import Logging
import Testing
import WSScaleTestSupport
@testable import WSScaleCurlHTTP

/// The shared libcurl HTTP client against the real Docker daemon's unix socket.
@Suite(.enabled(if: DockerTestEnvironment.isAvailable, "needs a Docker daemon: scripts/setup-docker.sh could not start one"))
struct CurlHTTPClientTests {
    let client = CurlHTTPClient(address: .unixSocket(path: "/var/run/docker.sock"), logger: Logger(label: "test.http"))

    @Test func pingsTheDaemonOverItsUnixSocket() async throws {
        let response = try await client.request("GET", "/_ping")
        #expect(response.status == 200)
        #expect(response.text == "OK")
        #expect(response.headers["api-version"] != nil)
    }

    @Test func readsTheVersionAsJSON() async throws {
        let response = try await client.request("GET", "/v1.41/version")
        #expect(response.status == 200)
        let version = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        #expect((version?["ApiVersion"] as? String).map { $0.hasPrefix("1.") } == true)
    }

    @Test func returnsErrorStatusesWithTheDaemonsBody() async throws {
        let body = Data(#"{"Image":"wsscale-no-such-image:0"}"#.utf8)
        let response = try await client.request("POST", "/v1.41/containers/create", query: ["name": "wsscale-http-test-\(UInt32.random(in: 0...UInt32.max))"], body: body)
        #expect(response.status == 404)
        #expect(response.text.contains("No such image: wsscale-no-such-image:0"))
    }

    @Test func failsClearlyWhenNothingListens() async throws {
        let missing = CurlHTTPClient(address: .unixSocket(path: "/nonexistent/docker.sock"), logger: Logger(label: "test.http"))
        do {
            _ = try await missing.request("GET", "/_ping")
            Issue.record("a request to a missing socket succeeded")
        } catch let error as HTTPAPIError {
            #expect(error.notSent)
            #expect("\(error)".hasPrefix("unix:///nonexistent/docker.sock: "))
        }
    }

    @Test func streamsEventsAndStopsWhenCancelled() async throws {
        let name = "wsscale-http-stream-\(UInt32.random(in: 0...UInt32.max))"
        let filters = #"{"type":["container"],"container":["\#(name)"]}"#
        // From a second ago: the daemon replays what happened since, so the create below is seen
        // however long the stream takes to open.
        let since = String(Int(Date().timeIntervalSince1970) - 1)
        let stream = client.stream("GET", "/v1.41/events", query: ["filters": filters, "since": since])
        let reader = Task { () -> String in
            var splitter = JSONLineSplitter()
            for try await chunk in stream {
                for line in splitter.append(chunk) {
                    let text = String(decoding: line, as: UTF8.self)
                    if text.contains(#""Action":"create""#) { return text }
                }
            }
            return ""
        }
        let create = try await client.request("POST", "/v1.41/containers/create", query: ["name": name],
                                              body: Data(#"{"Image":"\#(DockerTestEnvironment.testImage)","Cmd":["true"]}"#.utf8))
        defer { DockerTestEnvironment.docker("rm", "-f", name) }
        #expect(create.status == 201)
        let event = try await reader.value
        #expect(event.contains(name))

        // An idle stream ends promptly when its consumer is cancelled.
        let idle = Task {
            for try await _ in client.stream("GET", "/v1.41/events", query: ["filters": #"{"label":["wsscale.pool=nothing-ever"]}"#]) {}
        }
        let clock = ContinuousClock()
        let start = clock.now
        idle.cancel()
        _ = await idle.result
        #expect(clock.now - start < .seconds(5))
    }
}
