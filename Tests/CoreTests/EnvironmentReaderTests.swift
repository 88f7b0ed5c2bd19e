import Testing
@testable import WSScaleCore

@Suite struct EnvironmentReaderTests {
    @Test func environmentWinsOverDotEnv() throws {
        let dotEnv = """
        # comment
        export A=1
        B="two words"
        C='3' # trailing
        D=4 # comment
        """
        var reader = EnvironmentReader(environment: ["A": "10"], dotEnv: dotEnv)
        #expect(reader.int("A", default: 0) == 10)
        #expect(reader.string("B", default: "") == "two words")
        #expect(reader.int("C", default: 0) == 3)
        #expect(reader.int("D", default: 0) == 4)
        #expect(reader.int("E", default: 5) == 5)
        try reader.finish()
    }

    enum Fruit: String, CaseIterable { case apple, pear }

    @Test("a choice is one of an enum's words: the default when unset, reported naming the variable otherwise")
    func choiceOfWords() {
        var reader = EnvironmentReader(environment: ["GOOD": "pear", "BAD": "plum\u{1b}"])
        #expect(reader.choice("GOOD", default: Fruit.apple) == .pear)
        #expect(reader.choice("UNSET", default: Fruit.pear) == .pear)
        #expect(reader.choice("BAD", default: Fruit.apple) == .apple)
        #expect(EnvironmentReader.choice("fig", named: "--fruit", default: Fruit.pear, reporting: &reader) == .pear)
        #expect(reader.issues.map(\.variable) == ["BAD", "--fruit"])
        #expect(reader.issues[0].message.hasPrefix("must be one of apple, pear, got \""))
        #expect(!reader.issues[0].message.contains("\u{1b}"), "the value is shown escaped")
    }

    @Test func everyProblemIsReportedWithItsVariable() {
        var reader = EnvironmentReader(environment: ["N": "abc", "P": "120", "S": "-1", "B": "maybe"])
        _ = reader.int("N", default: 1)
        _ = reader.percent("P", default: 1)
        _ = reader.seconds("S", default: .seconds(1))
        _ = reader.bool("B", default: false)
        #expect(throws: ConfigurationError.self) { try reader.finish() }
        #expect(reader.issues.map(\.variable) == ["N", "P", "S", "B"])
        #expect(reader.issues[0].message.contains("whole number"))
        #expect(reader.issues[1].message.contains("between 0 and 100"))
    }

    @Test func secondsAcceptFractions() throws {
        var reader = EnvironmentReader(environment: ["T": "0.25"])
        #expect(reader.seconds("T", default: .zero) == .milliseconds(250))
        try reader.finish()
    }
}
