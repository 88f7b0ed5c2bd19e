import Foundation
import Testing
@testable import WSScaleCore

@Suite("DecisionLog and the JSON form of decisions")
struct DecisionLogTests {
    @Test("keeps the last N, numbered in order")
    func capped() {
        var log = DecisionLog(capacity: 3)
        for index in 0..<7 {
            log.append(Decision(sequence: 0, timestamp: Int64(index), kind: .plan, reasons: ["\(index)"], dryRun: false))
        }
        #expect(log.decisions.map(\.sequence) == [5, 6, 7])
        #expect(log.decisions.map(\.reasons) == [["4"], ["5"], ["6"]])
        log.update(6) { $0.errors.append("late failure") }
        log.update(1) { $0.errors.append("dropped long ago") }
        #expect(log.decisions.map(\.errors) == [[], ["late failure"], []])
    }

    @Test("plans and decisions round-trip through JSON with readable field names")
    func json() throws {
        let plan = ScalePlan(activate: ["ws-a"], launch: 2, drain: ["ws-b"],
                             shed: [ShedOrder(host: "ws-c", count: 3, cause: .rebalance)], remove: ["ws-d"],
                             reasons: ["because"])
        let decision = Decision(sequence: 4, timestamp: 1_700_000_000_000, kind: .plan, reasons: plan.reasons,
                                plan: plan, dryRun: true, actions: ["would activate ws-a"], errors: [])
        let data = try JSONEncoder().encode(decision)
        #expect(try JSONDecoder().decode(Decision.self, from: data) == decision)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let planObject = try #require(object["plan"] as? [String: Any])
        #expect(planObject["launch"] as? Int == 2)
        #expect((planObject["shed"] as? [[String: Any]])?.first?["cause"] as? String == "rebalance")
        #expect(object["kind"] as? String == "plan")
        #expect(try JSONDecoder().decode(ScalePlan.self, from: Data("{}".utf8)) == ScalePlan())
    }

    @Test("plan steps read in the order they are carried out")
    func steps() {
        let plan = ScalePlan(activate: ["a"], launch: 1, drain: ["b"],
                             shed: [ShedOrder(host: "c", count: 2, cause: .drainTimeout)], remove: ["d"])
        #expect(plan.steps == ["activate a", "launch 1 instance", "drain b", "shed 2 from c (drainTimeout)", "remove d"])
    }

    @Test("default ids are ws- and six hex digits")
    func ids() {
        for _ in 0..<50 {
            let id = InstanceIDGenerator.randomHex()
            #expect(id.count == 9 && id.hasPrefix("ws-"))
            #expect(id.dropFirst(3).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }
}
