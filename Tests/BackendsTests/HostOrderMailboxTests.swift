import Testing
import WSScaleCore
@testable import WSScaleBackends

/// The balancer's orders wait in a host's mailbox hash: one field per kind, so a later order
/// replaces one still waiting; the host reads the state before the shed.
@Suite("Host order mailbox (no I/O)")
struct HostOrderMailboxTests {
    let schema = RedisKeySchema(prefix: "pool")

    @Test("an order is written under its kind, its life renewed, then the doorbell rung")
    func sendCommands() {
        #expect(HostOrderMailbox.sendCommands(.shed(count: 12), to: "ws-1", schema: schema) == [
            ["HSET", "pool:host:ws-1:orders", "shed", "12"],
            ["PEXPIRE", "pool:host:ws-1:orders", "10000"],
            ["PUBLISH", "pool:cmd:ws-1", "shed 12"],
        ])
        #expect(HostOrderMailbox.sendCommands(.drain, to: "ws-1", schema: schema).first == ["HSET", "pool:host:ws-1:orders", "state", "drain"])
        #expect(HostOrderMailbox.sendCommands(.activate, to: "ws-1", schema: schema).first == ["HSET", "pool:host:ws-1:orders", "state", "activate"])
        #expect(HostOrderMailbox.sendCommands(.drop(sessionId: "s"), to: "ws-1", schema: schema).isEmpty, "a drop is a peer's request, never an order")
    }

    @Test("the host takes and deletes its orders in one transaction")
    func takeCommands() {
        #expect(HostOrderMailbox.takeCommands(host: "ws-1", schema: schema)
                == [["MULTI"], ["HGETALL", "pool:host:ws-1:orders"], ["DEL", "pool:host:ws-1:orders"], ["EXEC"]])
    }

    @Test("taken orders: the state first, then the shed; anything else is set apart",
          arguments: [
              (["shed", "3", "state", "drain"], [HostCommand.drain, .shed(count: 3)], [String]()),
              (["state", "activate"], [.activate], []),
              ([], [], []),
              (["shed", "99999999999999999999"], [.shed(count: SettingRule.maxShed)], []),
              (["shed", "-1", "state", "sleep", "other", "x", "dangling"], [], ["shed=-1", "state=sleep", "other=x", "dangling"]),
          ])
    func orders(flat: [String], orders: [HostCommand], malformed: [String]) {
        let taken = HostOrderMailbox.orders(fromHash: flat)
        #expect(taken.orders == orders)
        #expect(taken.malformed == malformed)
    }
}
