import Foundation
import Testing

/// The unit files under `systemd/` are valid for the systemd on this machine.
@Suite struct SystemdUnitTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["wsscale-server@.service", "wsscale-balancer.service", "wsscale-client.service",
                      "wsscale-dashboard.service", "wsscale.target"])
    func unitVerifies(_ name: String) throws {
        guard let complaints = try Self.verify(name, edit: { $0 }) else { return }
        #expect(complaints.isEmpty, "\(complaints.joined(separator: "\n"))")
    }

    @Test func aBrokenUnitIsCaught() throws {
        guard let complaints = try Self.verify("wsscale-server@.service", edit: {
            $0.replacingOccurrences(of: "Type=notify", with: "Type=nonsense\nBogusKey=1")
        }) else { return }
        #expect(complaints.count == 2, "\(complaints)")
    }

    /// Runs `systemd-analyze verify` on a copy of the unit (with `edit` applied) and returns the
    /// lines about it; `nil` when systemd-analyze is not installed.
    static func verify(_ name: String, edit: (String) -> String) throws -> [Substring]? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            print("SKIPPING unit verification: systemd-analyze is not installed")
            return nil
        }
        // systemd-analyze wants an instance for a template, and the binary the unit names.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsscale-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = repositoryRoot.appendingPathComponent("systemd/\(name)")
        let text = edit(try String(contentsOf: source, encoding: .utf8))
            .replacingOccurrences(of: "/usr/bin/wsscale", with: "/bin/true")
        let unitName = name.replacingOccurrences(of: "@.service", with: "@ws-test.service")
        let target = directory.appendingPathComponent(name)
        try text.write(to: target, atomically: true, encoding: .utf8)
        if unitName != name {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(unitName), withDestinationURL: target)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["verify", "--man=no", directory.appendingPathComponent(unitName).path]
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // It exits 0 even on unknown keys; lines about the host's own units are not ours.
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
            .filter { $0.contains(directory.path) }
    }
}
