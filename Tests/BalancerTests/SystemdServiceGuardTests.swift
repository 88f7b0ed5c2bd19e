import Testing
import WSScaleBalancer

/// `SystemdServiceGuard`: the process backend is refused only when systemd started this very
/// process as a service, and the refusal names the fix.
@Suite struct SystemdServiceGuardTests {
    @Test func systemdSetsBothVariablesForTheMainProcess() {
        let environment = ["INVOCATION_ID": "3f2a", "SYSTEMD_EXEC_PID": "4242"]
        #expect(SystemdServiceGuard.runsAsSystemdService(environment: environment, pid: 4242, parentPid: 1))
    }

    @Test func aChildOfAServiceIsNotTheService() {
        // A shell in a terminal started by a user service: INVOCATION_ID is inherited, the pid differs.
        let environment = ["INVOCATION_ID": "3f2a", "SYSTEMD_EXEC_PID": "900"]
        #expect(!SystemdServiceGuard.runsAsSystemdService(environment: environment, pid: 4242, parentPid: 900))
    }

    @Test func withoutInvocationIdItIsNoService() {
        #expect(!SystemdServiceGuard.runsAsSystemdService(environment: [:], pid: 4242, parentPid: 1))
        #expect(!SystemdServiceGuard.runsAsSystemdService(environment: ["SYSTEMD_EXEC_PID": "4242"], pid: 4242, parentPid: 1))
        #expect(!SystemdServiceGuard.runsAsSystemdService(environment: ["INVOCATION_ID": ""], pid: 4242, parentPid: 1))
    }

    @Test func olderManagersCountWhenTheParentIsPidOne() {
        #expect(SystemdServiceGuard.runsAsSystemdService(environment: ["INVOCATION_ID": "3f2a"], pid: 4242, parentPid: 1))
        #expect(!SystemdServiceGuard.runsAsSystemdService(environment: ["INVOCATION_ID": "3f2a"], pid: 4242, parentPid: 77))
    }

    @Test(arguments: BackendKind.allCases)
    func onlyTheProcessBackendUnderSystemdIsRefused(_ backend: BackendKind) {
        #expect(SystemdServiceGuard.refusal(command: "balancer", backend: backend, underSystemd: false) == nil)
        let refusal = SystemdServiceGuard.refusal(command: "balancer", backend: backend, underSystemd: true)
        if backend == .process {
            #expect(refusal?.contains("KillMode=control-group") == true)
            #expect(refusal?.contains("WSSCALE_BACKEND=systemd") == true)
            #expect(refusal?.hasPrefix("wsscale balancer:") == true)
        } else {
            #expect(refusal == nil)
        }
    }
}
