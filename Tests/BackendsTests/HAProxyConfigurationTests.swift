import Foundation
import Logging
import Testing
@testable import WSScaleBackends
import WSScaleTestSupport

/// The configuration file wsscale starts HAProxy with.
@Suite struct HAProxyConfigurationTests {
    @Test func rendersTheFrontendStatsRuntimeAPIAndAnEmptyLeastconnBackend() {
        let text = HAProxyConfiguration(runtimeSocketPath: "/run/wsscale/haproxy.sock", runtimeTCPBind: "127.0.0.1:9999").render()
        let lines = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for expected in [
            "stats socket /run/wsscale/haproxy.sock mode 600 level admin expose-fd listeners",
            "stats socket ipv4@127.0.0.1:9999 level admin",
            "bind *:8000", "bind *:8404", "stats uri /",
            "balance leastconn", "option httpchk GET /health", "http-check expect status 200",
            "default-server check inter 500ms fall 2 rise 1",
            "timeout tunnel 1h", "timeout client 30s", "timeout server 30s", "timeout server-fin 5s",
        ] {
            #expect(lines.contains(expected), "missing line: \(expected)")
        }
        #expect(!lines.contains { $0.hasPrefix("server ") })
    }

    @Test func leavesOutTheOptionalListeners() {
        let text = HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", statsBind: nil).render()
        #expect(!text.contains("stats enable"))
        #expect(!text.contains("ipv4@"))
    }

    @Test func rendersDurationsInHAProxyUnits() {
        #expect(HAProxyDuration.render(.milliseconds(500)) == "500ms")
        #expect(HAProxyDuration.render(.seconds(30)) == "30s")
        #expect(HAProxyDuration.render(.seconds(120)) == "2m")
        #expect(HAProxyDuration.render(.seconds(3600)) == "1h")
        #expect(HAProxyDuration.render(.milliseconds(1500)) == "1500ms")
    }

    @Test func badSettingsAreNamedInTheError() {
        #expect(throws: HAProxyError("trafficBind \"8000\" must look like [address]:port")) {
            try HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", trafficBind: "8000").validate()
        }
        #expect(throws: HAProxyError("backendName \"my backend\" must be letters, digits, '.', '_', ':' or '-' (found \" \" in \"my backend\")")) {
            try HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", backendName: "my backend").validate()
        }
    }

    @Test func realHAProxyAcceptsTheFile() throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/haproxy.cfg"
        try HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock", trafficBind: "127.0.0.1:18000",
                                 statsBind: "127.0.0.1:18404", runtimeTCPBind: "127.0.0.1:19999").write(to: path)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
        check.arguments = ["-c", "-f", path]
        let output = Pipe()
        check.standardOutput = output
        check.standardError = output
        try check.run()
        check.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(check.terminationStatus == 0, "haproxy -c said: \(text)")
        #expect(!text.contains("WARNING"), "haproxy -c warned: \(text)")
    }

    @Test func relaySourcesMustBeAnAddressANetworkOrAVariable() {
        for good in ["10.231.0.0/24", "10.0.0.5", "fd00::/64", "${HAPROXY_RUNTIME_API_SOURCES}"] {
            #expect(HAProxyRuntimeRelay.sourcesProblem(good) == nil, "\(good)")
        }
        for bad in ["", "any", "10.0.0.0/33", "10.0.0.0/", "${A B}", "${}", "10.0.0.1 10.0.0.2", "10.0.0.0/8 or 1"] {
            #expect(HAProxyRuntimeRelay.sourcesProblem(bad) != nil, "\(bad)")
        }
        #expect(throws: HAProxyError("runtimeRelay.allowedSources \"any\" must be an IP address, a network (address/prefix) or ${VARIABLE}")) {
            try HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", runtimeRelay: HAProxyRuntimeRelay(bind: "*:9999", allowedSources: "any"))
                .validate()
        }
    }

    /// The real HAProxy's relay answers the runtime API to its allowed sources only: from
    /// 127.0.0.1, allowed as 127.0.0.1/32 it answers `show info`; allowed as 127.0.0.2 only, the
    /// same connection is closed unanswered.
    @Test(arguments: [("127.0.0.1/32", true), ("127.0.0.2", false)])
    func realHAProxyRelaysTheRuntimeAPIOnlyToItsSources(_ sources: String, _ answers: Bool) async throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (traffic, relay) = (try #require(LoopbackPort.free()), try #require(LoopbackPort.free()))
        let configuration = HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock", trafficBind: "127.0.0.1:\(traffic)",
                                                 statsBind: nil, runtimeRelay: HAProxyRuntimeRelay(bind: "127.0.0.1:\(relay)", allowedSources: sources))
        let haproxy = try await HAProxyProcess.start(configuration, in: directory, logger: Logger(label: "test.haproxy"))
        let api = HAProxyRuntimeAPI(address: .tcp(host: "127.0.0.1", port: relay))
        let answer: String?
        do { answer = try await api.execute("show info") } catch { answer = nil }
        await haproxy.stop(grace: .seconds(1))
        if answers {
            #expect(answer?.contains("Pid:") == true, "from an allowed source the relay answers: \(answer ?? "nothing")")
        } else {
            #expect(answer == nil || answer?.contains("Pid:") == false, "from another source the relay must not answer: \(answer ?? "")")
        }
    }
}
