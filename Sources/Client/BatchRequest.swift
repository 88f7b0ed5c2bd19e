import Foundation

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
        let parsed = JSONObjectBody.fields(of: body, example: "{\"userIds\": [\"user1\"]}")
        guard let fields = parsed.fields else { throw Rejection(reason: parsed.reason ?? "body is not a JSON object") }
        guard let value = fields["userIds"] else {
            throw Rejection(reason: "field \"userIds\" is missing")
        }
        guard let list = value as? [Any] else {
            throw Rejection(reason: "field \"userIds\" must be an array of strings")
        }
        guard !list.isEmpty else { throw Rejection(reason: "field \"userIds\" is empty") }
        guard list.count <= Self.maxUserIDs else {
            throw Rejection(reason: "field \"userIds\" has \(list.count) ids, at most \(Self.maxUserIDs) are allowed")
        }
        var seen = Set<String>()
        var ids: [String] = []
        ids.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            // NSNumber bridges to String on some platforms: check the dynamic type strictly.
            guard let id = element as? String, !(element is NSNumber) else {
                throw Rejection(reason: "userIds[\(index)] is not a string")
            }
            guard UserID.isValid(id) else {
                throw Rejection(reason: "userIds[\(index)] \"\(Self.excerpt(id))\" is not a valid user id: 1-\(UserID.maxLength) characters of A-Z a-z 0-9 . _ @ -")
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
        self.userIDs = ids
    }

    private static func excerpt(_ id: String) -> String {
        let short = id.count > 40 ? String(id.prefix(40)) + "…" : id
        return short.replacingOccurrences(of: "\"", with: "\\\"")
    }
}
