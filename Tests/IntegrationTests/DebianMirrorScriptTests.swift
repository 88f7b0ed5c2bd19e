import Foundation
import Testing
import WSScaleTestSupport

/// `scripts/debian-mirror.sh`, the mirror the images are debootstrapped from: the machine's
/// own apt sources (deb822 `.sources` first, then the classic lists), the suite itself only,
/// `WSSCALE_DEBIAN_MIRROR` over everything, Debian's redirector when nothing names one.
@Suite struct DebianMirrorScriptTests {
    static let script = DockerTestEnvironment.repositoryRoot.appendingPathComponent("scripts/debian-mirror.sh").path

    /// Runs the script against an apt folder holding `files` (path → text).
    static func mirror(_ files: [String: String], override: String? = nil) throws -> String {
        let apt = FileManager.default.temporaryDirectory.appendingPathComponent("wsscale-apt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: apt.appendingPathComponent("sources.list.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: apt) }
        for (path, text) in files {
            try text.write(to: apt.appendingPathComponent(path), atomically: true, encoding: .utf8)
        }
        var environment = ["WSSCALE_APT_DIR": apt.path, "WSSCALE_DEBIAN_MIRROR": ""]
        if let override { environment["WSSCALE_DEBIAN_MIRROR"] = override }
        let run = TestCommand.run("/bin/bash", [script], environment: environment)
        #expect(run.status == 0, "\(run.output)")
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let classic = """
        deb http://security.debian.org/debian-security bookworm-security main
        # deb http://commented.example/debian bookworm main
        deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://classic.example/debian bookworm main contrib
        """
    static let deb822 = """
        Types: deb
        URIs: http://security.example/debian-security
        Suites: bookworm-security
        Components: main

        Types: deb deb-src
        URIs: http://deb822.example/debian http://second.example/debian
        Suites: bookworm bookworm-updates
        Components: main
        """

    @Test func theClassicListNamesTheSuitesMirrorNotTheSecurityOne() throws {
        #expect(try Self.mirror(["sources.list": Self.classic]) == "http://classic.example/debian")
    }

    @Test func deb822SourcesComeFirst() throws {
        #expect(try Self.mirror(["sources.list": Self.classic, "sources.list.d/debian.sources": Self.deb822]) == "http://deb822.example/debian")
    }

    @Test func theVariableWinsAndNothingFallsBackToDebiansRedirector() throws {
        #expect(try Self.mirror(["sources.list.d/debian.sources": Self.deb822], override: "http://proxy.example/debian") == "http://proxy.example/debian")
        #expect(try Self.mirror([:]) == "http://deb.debian.org/debian")
    }
}
