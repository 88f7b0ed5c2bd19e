import Testing
import WSScaleTestSupport

/// How experiment 4 chooses its holes (pure: no stack is started).
@Suite struct SwissCheeseHoleTests {
    let scenario = StackScenario(api: StackAPI(clientPort: 1, balancerPort: 1), killServer: { _ in })

    static func pool(_ counts: [String: Int]) -> [String: [String]] {
        counts.mapValues { count in (0..<count).map { "u\($0)" } }
    }

    @Test("a pool at its target: one hole in the fullest server is enough")
    func oneHole() throws {
        let (servers, leaving) = try scenario.holes(in: Self.pool(["a": 7, "b": 7, "c": 7, "d": 7, "e": 6, "f": 6]), keep: 1)
        #expect(servers == ["a"])
        #expect(leaving.count == 6)
    }

    @Test("a pool that grew past its target (seven servers at 6): one hole leaves nothing above the bound, two do")
    func twoHoles() throws {
        // The pool CI once saw: 40 users on 7 servers. One hole gives an average of 5 and a
        // bound of 6, and no server is above 6.
        let (servers, leaving) = try scenario.holes(
            in: Self.pool(["a": 6, "b": 6, "c": 6, "d": 6, "e": 6, "f": 6, "g": 4]), keep: 1)
        #expect(servers == ["a", "b"])
        #expect(leaving.count == 10)
    }

    @Test("an even pool of two at 1 each cannot be holed: a clear failure, not a silent pass")
    func nothingToHole() {
        #expect(throws: ScenarioFailure.self) {
            _ = try scenario.holes(in: Self.pool(["a": 1, "b": 1]), keep: 1)
        }
    }
}
