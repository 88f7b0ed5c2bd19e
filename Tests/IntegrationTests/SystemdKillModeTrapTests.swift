import Foundation
import Testing
import WSScaleTestSupport

/// The real binary refuses the process backend when it looks like a systemd service's main
/// process (`INVOCATION_ID` set, `SYSTEMD_EXEC_PID` its own pid: a shell that `exec`s it keeps
/// the pid), with exit status 2 and the fix. The same refusal under the real systemd is checked
/// by `SystemdDeploymentTests` in the container.
@Suite struct SystemdKillModeTrapTests {
    @Test(arguments: [["balancer", "--backend", "process"], ["up"]])
    func theBinaryRefusesTheProcessBackendAsAService(_ arguments: [String]) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsscale-trap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = await TestCommand.runDetached("/bin/sh", ["-c", "INVOCATION_ID=wsscale-test SYSTEMD_EXEC_PID=$$ exec \"$@\"", "sh", UpStack.binary] + arguments,
                                  environment: ["WSSCALE_BACKEND": "process"], directory: directory)
        #expect(run.status == 2, "exit status \(run.status): \(run.output)")
        #expect(run.output.contains("KillMode=control-group"), "\(run.output)")
        #expect(run.output.contains("WSSCALE_BACKEND=systemd"), "\(run.output)")
    }
}
