import WSScaleCore

/// The body of `POST /route/kickstart/ws/batch/connect` and `.../disconnect`:
/// `{"userIds": ["user1", ...]}`, validated.
public struct BatchRequest: Sendable, Equatable {
    /// The most user ids one request may carry.
    public static let maxUserIDs = 100_000

    /// The user ids, in request order, without duplicates.
    public let userIDs: [String]

    /// Why a body was rejected (the text goes into the 400 answer).
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong with the body, for a person.
        public let reason: String
        /// Creates a rejection.
        public init(reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// Parses and validates a request body.
    /// - Parameter body: the raw JSON bytes.
    /// - Throws: ``Rejection`` naming the problem: not JSON, not an object, `userIds` missing
    ///   or not an array, an element that is not a string or not a valid user id, an empty list,
    ///   too many ids.
    public init(json body: [UInt8]) throws {
        let list: [String]
        do {
            list = try JSONBody.decode(Fields.self, from: body, example: "{\"userIds\": [\"user1\"]}").userIds
        } catch let problem as JSONBody.Problem {
            switch (problem.kind, problem.path.count) {
            case (.wrongType, 2...): throw Rejection(reason: "userIds[\(problem.path[1])] is not a string")
            case (.wrongType, _): throw Rejection(reason: "field \"userIds\" must be an array of strings")
            default: throw Rejection(reason: problem.reason)
            }
        }
        guard !list.isEmpty else { throw Rejection(reason: "field \"userIds\" is empty") }
        guard list.count <= Self.maxUserIDs else {
            throw Rejection(reason: "field \"userIds\" has \(list.count) ids, at most \(Self.maxUserIDs) are allowed")
        }
        var seen = Set<String>()
        var ids: [String] = []
        ids.reserveCapacity(list.count)
        for (index, id) in list.enumerated() {
            guard IdentifierRule.userId.isValid(id) else {
                throw Rejection(reason: "userIds[\(index)] \"\(Self.excerpt(id))\" is not a valid user id: 1-\(IdentifierRule.userId.maxLength) characters of A-Z a-z 0-9 . _ @ -")
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
        self.userIDs = ids
    }

    /// The body's shape.
    private struct Fields: Decodable {
        var userIds: [String]
    }

    private static func excerpt(_ id: String) -> String {
        let short = id.count > 40 ? String(id.prefix(40)) + "…" : id
        return short.replacingOccurrences(of: "\"", with: "\\\"")
    }
}
