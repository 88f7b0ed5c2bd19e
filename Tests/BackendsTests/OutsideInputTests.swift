@testable import WSScaleBackends
import WSScaleCore
import Testing

/// Outside input that used to trap (a precondition, `Dictionary(uniqueKeysWithValues:)`,
/// `String(repeating:count:)` with a negative count) or could inject a command or a
/// configuration line, now handled. Pure: no I/O.
@Suite struct OutsideInputTests {
    // MARK: the command channel

    @Test func aHugeShedCountIsClampedNotTrapped() {
        #expect(HostCommandWireFormat.decode("shed 99999999999999999999") == .shed(count: SettingRule.maxShed))
        #expect(HostCommandWireFormat.decode("shed 9223372036854775807") == .shed(count: SettingRule.maxShed))
        #expect(HostCommandWireFormat.decode("shed 1000001") == .shed(count: SettingRule.maxShed))
        #expect(HostCommandWireFormat.decode("shed 000000000000000000000000000000000005") == .shed(count: 5))
        #expect(HostCommandWireFormat.decode("shed 1000000") == .shed(count: 1_000_000))
        #expect(HostCommandWireFormat.decode("shed 0") == .shed(count: 0))
    }

    @Test(arguments: ["shed +5", "shed 5 ", "shed  5", "shed ５", "shed 0x10", "shed " + String(repeating: "9", count: 41)])
    func aShedCountThatIsNotPlainDigitsIsRejected(text: String) {
        #expect(HostCommandWireFormat.decode(text) == nil)
    }

    // MARK: engine events

    @Test func aNegativeEventTimeIsTakenAs1970() {
        #expect(ContainerEventTime.timestamp(nanoseconds: -1) == "0.000000000")
        #expect(ContainerEventTime.timestamp(nanoseconds: .min) == "0.000000000")
        #expect(ContainerEventTime.timestamp(nanoseconds: .max) == "9223372036.854775807")
        #expect(ContainerEventTime.timestamp(nanoseconds: 5) == "0.000000005")
    }

    // MARK: HAProxy's answers

    @Test func aDuplicateColumnInShowServersStateKeepsTheFirst() {
        let text = """
        1
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port srv_name
        4 servers 1 ws-1 127.0.0.1 2 0 18101 other

        """
        let rows = HAProxyAnswers.parseServersState(text)
        #expect(rows.count == 1)
        #expect(rows.first?["srv_name"] == "ws-1")
        let servers = HAProxyAnswers.servers(serversState: text, stat: "", backend: "servers")
        #expect(servers.map(\.name) == ["ws-1"])
        #expect(servers.first?.endpoint == Endpoint(host: "127.0.0.1", port: 18101))
    }

    // MARK: HAProxy's commands and configuration

    @Test(arguments: ["show servers state a;shutdown sessions server b/c", "show info\tx", "show info\r", "show info\n",
                      "show stat a\u{0}"])
    func aCommandThatWouldCarryAnotherIsRefused(command: String) {
        #expect(HAProxyRuntimeAPI.commandProblem(command) != nil)
    }

    @Test func anOrdinaryCommandIsSent() {
        #expect(HAProxyRuntimeAPI.commandProblem("set server wsscale_servers/ws-1a2b3c state ready") == nil)
    }

    @Test(arguments: [
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", backendName: "servers;x"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", backendName: "servers\tx"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", backendName: "servers\nbackend x"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", trafficBind: "127.0.0.1;x:8000"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", trafficBind: "127.0.0.1\tssl:8000"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", trafficBind: "127.0.0.1#:8000"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/h.sock", statsBind: "0.0.0.0 user x:8404"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/dir;x/h.sock"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/dir\tlevel admin/h.sock"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/dir#/h.sock"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/\"dir\"/h.sock"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/$HOME/h.sock"),
        HAProxyConfiguration(runtimeSocketPath: "/tmp/dir\n    stats socket ipv4@0.0.0.0:9999 level admin\n/h.sock"),
    ])
    func anInjectingConfigurationIsRefused(configuration: HAProxyConfiguration) {
        #expect(throws: HAProxyError.self) { try configuration.validate() }
    }

    @Test func ordinaryBindsAreAccepted() throws {
        for bind in ["*:8000", ":8000", "0.0.0.0:8000", "127.0.0.1:8000", ":::8000", "lb.example.internal:8000"] {
            try HAProxyConfiguration(runtimeSocketPath: "/tmp/wsscale-x/haproxy/admin.sock", trafficBind: bind).validate()
        }
    }
}
