import Testing
import WSScaleAPI
import WSScaleCore

@Suite("Batch request bodies and user ids")
struct BatchRequestTests {
    func parse(_ text: String) throws -> [String] {
        try BatchRequest(json: Array(text.utf8)).userIDs
    }

    @Test("a valid body gives its ids in order, without duplicates")
    func validBody() throws {
        #expect(try parse(#"{"userIds": ["user1", "a.b_c@d-e", "user1", "Z9"]}"#) == ["user1", "a.b_c@d-e", "Z9"])
        #expect(try parse(#"{"userIds": ["x"], "extra": 1}"#) == ["x"])
    }

    @Test("malformed bodies are rejected with a reason naming the problem", arguments: [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        (#"["user1"]"#, "JSON object"),
        ("{}", "\"userIds\" is missing"),
        (#"{"userids": ["a"]}"#, "\"userIds\" is missing"),
        (#"{"userIds": "user1"}"#, "must be an array"),
        (#"{"userIds": null}"#, "must be an array"),
        (#"{"userIds": []}"#, "is empty"),
        (#"{"userIds": ["ok", 7]}"#, "userIds[1] is not a string"),
        (#"{"userIds": [true]}"#, "userIds[0] is not a string"),
        (#"{"userIds": [["nested"]]}"#, "userIds[0] is not a string"),
        (#"{"userIds": ["has space"]}"#, "userIds[0] \"has space\" is not a valid user id"),
        (#"{"userIds": ["a/b"]}"#, "is not a valid user id"),
        (#"{"userIds": [""]}"#, "is not a valid user id"),
        (#"{"userIds": ["é"]}"#, "is not a valid user id"),
    ])
    func malformedBodies(body: String, reason: String) {
        #expect {
            try parse(body)
        } throws: { error in
            guard let rejection = error as? BatchRequest.Rejection else { return false }
            return rejection.reason.contains(reason)
        }
    }

    @Test("user ids: 1 to 128 characters of [A-Za-z0-9._@-]")
    func userIDRule() {
        #expect(IdentifierRule.userId.isValid(String(repeating: "a", count: 128)))
        #expect(!IdentifierRule.userId.isValid(String(repeating: "a", count: 129)))
        #expect(IdentifierRule.userId.isValid("user-1.test_x@example"))
        #expect(!IdentifierRule.userId.isValid(""))
        for bad in ["a b", "a/b", "a?b", "a%20", "ü", "a\u{0}"] { #expect(!IdentifierRule.userId.isValid(bad), "\(bad)") }
    }
}
