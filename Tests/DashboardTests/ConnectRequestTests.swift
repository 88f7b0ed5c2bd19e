import NIOConcurrencyHelpers
import Testing
import WSScaleDashboard

@Suite("Dashboard connect request")
struct DashboardConnectRequestTests {
    private func parse(_ text: String) throws -> ConnectRequest {
        try ConnectRequest(json: Array(text.utf8))
    }

    private func reason(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch let rejection as ConnectRequest.Rejection {
            return rejection.reason
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func acceptsCountAndPrefix() throws {
        let request = try parse(#"{"count": 12, "prefix": "load-test_1"}"#)
        #expect(request.count == 12)
        #expect(request.prefix == "load-test_1")
    }

    @Test func prefixDefaultsToUser() throws {
        #expect(try parse(#"{"count": 1}"#).prefix == "user")
        #expect(try parse(#"{"count": 1, "prefix": null}"#).prefix == "user")
    }

    @Test func countBounds() throws {
        #expect(try parse(#"{"count": 10000}"#).count == 10000)
        #expect(reason(#"{"count": 0}"#) == "field \"count\" must be between 1 and 10000, got 0")
        #expect(reason(#"{"count": 10001}"#) == "field \"count\" must be between 1 and 10000, got 10001")
        #expect(reason(#"{"count": -3}"#) == "field \"count\" must be between 1 and 10000, got -3")
    }

    @Test(arguments: [#"{"count": "12"}"#, #"{"count": true}"#, #"{"count": 1.5}"#, #"{"count": null}"#,
                      #"{"count": [1]}"#, #"{"count": 1e30}"#])
    func countMustBeAWholeNumber(body: String) {
        #expect(reason(body) == "field \"count\" must be a whole number")
    }

    @Test func malformedBodies() {
        #expect(reason("not json") == "body is not valid JSON")
        #expect(reason("") == "body is not valid JSON")
        #expect(reason("[1, 2]")?.hasPrefix("body must be a JSON object") == true)
        #expect(reason(#"{"prefix": "u"}"#) == "field \"count\" is missing")
        #expect(reason(#"{"count": 2, "prefix": 7}"#) == "field \"prefix\" must be a string")
    }

    @Test(arguments: ["", "has space", "dot.ted", "ü", "a/b", String(repeating: "x", count: 33)])
    func badPrefixes(prefix: String) {
        #expect(!ConnectRequest.isValidPrefix(prefix))
        #expect(throws: ConnectRequest.Rejection.self) { try ConnectRequest(count: 1, prefix: prefix) }
    }

    @Test(arguments: ["u", "A-Z_09", String(repeating: "x", count: 32)])
    func goodPrefixes(prefix: String) {
        #expect(ConnectRequest.isValidPrefix(prefix))
    }
}

@Suite("Dashboard new user ids")
struct DashboardNewUserIDsTests {
    @Test func numbersFromOne() {
        #expect(NewUserIDs.pick(count: 3, prefix: "u", known: []) == ["u1", "u2", "u3"])
    }

    @Test func skipsKnownIDsAndFillsGaps() {
        let known: Set<String> = ["u1", "u2", "u4", "user3", "v5"]
        #expect(NewUserIDs.pick(count: 4, prefix: "u", known: known) == ["u3", "u5", "u6", "u7"])
    }

    @Test func neverReturnsAKnownIDNorADuplicate() {
        let known = Set((1...500).filter { $0 % 3 != 0 }.map { "p\($0)" })
        let picked = NewUserIDs.pick(count: 1000, prefix: "p", known: known)
        #expect(picked.count == 1000)
        #expect(Set(picked).count == 1000)
        #expect(Set(picked).isDisjoint(with: known))
    }

    @Test("two connects at once get different ids; an id handed out is never handed out again")
    func issuedIDsKeepConcurrentConnectsApart() {
        let issued = IssuedUserIDs()
        let known: Set<String> = ["u1"]
        // Both read the client's users before either batch reached it.
        #expect(issued.issue(count: 3, prefix: "u", known: known) == ["u2", "u3", "u4"])
        #expect(issued.issue(count: 3, prefix: "u", known: known) == ["u5", "u6", "u7"])
        // Other prefixes are their own sequence; known ids are still skipped.
        #expect(issued.issue(count: 2, prefix: "v", known: ["v1"]) == ["v2", "v3"])
        #expect(issued.issue(count: 1, prefix: "u", known: known.union(["u8"])) == ["u9"])
    }

    @Test("the record is bounded: an id leaves it once the simulator lists it, or after keepFor")
    func issuedIDsAreForgotten() {
        let start = ContinuousClock.now
        let clock = NIOLockedValueBox(start)
        let issued = IssuedUserIDs(keepFor: .seconds(60), now: { clock.withLockedValue { $0 } })
        #expect(issued.issue(count: 3, prefix: "u", known: []) == ["u1", "u2", "u3"])
        #expect(issued.count == 3)
        // The simulator now lists u1 and u2: they are its to know; only u3 stays in flight.
        #expect(issued.issue(count: 1, prefix: "u", known: ["u1", "u2"]) == ["u4"])
        #expect(issued.count == 2)
        // A minute later, ids the simulator never listed (a refused batch) are free again.
        clock.withLockedValue { $0 = start + .seconds(61) }
        #expect(issued.issue(count: 2, prefix: "u", known: ["u1", "u2"]) == ["u3", "u4"])
        #expect(issued.count == 2)
    }
}
