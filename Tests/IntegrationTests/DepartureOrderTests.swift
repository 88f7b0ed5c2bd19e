import Testing
import WSScaleTestSupport

/// How experiment 3 chooses who leaves (pure: no stack is started).
@Suite struct DepartureOrderTests {
    static func hosts(_ seats: [String: String]) -> (String) -> String? { { seats[$0] } }

    @Test("users leave from the fullest server first, so servers empty evenly")
    func fullestFirst() {
        let seats = ["a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b", "c1": "c"]
        let leaving = DepartureOrder.next(3, of: ["a1", "a2", "a3", "b1", "b2", "c1"], host: Self.hosts(seats), draining: [])
        #expect(leaving.filter { seats[$0] == "a" }.count == 2)
        #expect(leaving.filter { seats[$0] == "b" }.count == 1)
        #expect(!leaving.contains("c1"))
    }

    @Test("users on a draining server stay until nobody else is left")
    func drainingLast() {
        let seats = ["a1": "a", "a2": "a", "a3": "a", "b1": "b"]
        let remaining = ["a1", "a2", "a3", "b1"]
        #expect(DepartureOrder.next(1, of: remaining, host: Self.hosts(seats), draining: ["a"]) == ["b1"])
        #expect(Set(DepartureOrder.next(3, of: remaining, host: Self.hosts(seats), draining: ["a"])) == ["b1", "a3", "a2"])
    }

    @Test("users not connected right now leave first; a batch larger than the rest takes all")
    func unplacedFirstAndAll() {
        let seats = ["a1": "a"]
        #expect(DepartureOrder.next(1, of: ["a1", "x"], host: Self.hosts(seats), draining: []) == ["x"])
        #expect(Set(DepartureOrder.next(5, of: ["a1", "x"], host: Self.hosts(seats), draining: [])) == ["a1", "x"])
    }
}
