import WSScaleAPI

/// The body of the dashboard's `POST /api/connect`: `{"count": N, "prefix": "user"}`, validated.
public struct ConnectRequest: Sendable, Equatable {
    /// The most users one request may connect.
    public static let maxCount = 10_000
    /// The longest prefix.
    public static let maxPrefixLength = 32
    /// The prefix when the body gives none.
    public static let defaultPrefix = "user"

    /// How many new users to connect.
    public let count: Int
    /// What their ids start with.
    public let prefix: String

    /// Why a body was rejected (the text goes into the 400 answer).
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong with the body, for a person.
        public let reason: String
        public var description: String { reason }
    }

    /// Creates a request from checked values.
    /// - Throws: ``Rejection`` when `count` or `prefix` break the rules.
    public init(count: Int, prefix: String = ConnectRequest.defaultPrefix) throws {
        guard (1...Self.maxCount).contains(count) else {
            throw Rejection(reason: "field \"count\" must be between 1 and \(Self.maxCount), got \(count)")
        }
        guard Self.isValidPrefix(prefix) else {
            throw Rejection(reason: "field \"prefix\" must be 1-\(Self.maxPrefixLength) characters of A-Z a-z 0-9 _ -")
        }
        self.count = count
        self.prefix = prefix
    }

    /// Parses and validates a request body.
    /// - Parameter body: the raw JSON bytes.
    /// - Throws: ``Rejection`` naming the problem: not JSON, not an object, `count` missing or
    ///   not a whole number in range, `prefix` not a string of the allowed characters.
    public init(json body: [UInt8]) throws {
        let fields: Fields
        do {
            fields = try JSONBody.decode(Fields.self, from: body, example: "{\"count\": 10, \"prefix\": \"user\"}")
        } catch let problem as JSONBody.Problem {
            switch (problem.kind, problem.path.first) {
            case (.wrongType, "prefix"): throw Rejection(reason: "field \"prefix\" must be a string")
            case (.wrongType, _): throw Rejection(reason: "field \"count\" must be a whole number")
            default: throw Rejection(reason: problem.reason)
            }
        }
        try self.init(count: fields.count, prefix: fields.prefix ?? Self.defaultPrefix)
    }

    /// Whether `prefix` is 1 to 32 characters of `[A-Za-z0-9_-]`.
    public static func isValidPrefix(_ prefix: String) -> Bool {
        let scalars = prefix.unicodeScalars
        guard !scalars.isEmpty, scalars.count <= maxPrefixLength else { return false }
        return scalars.allSatisfy { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", "-": return true
            default: return false
            }
        }
    }

    /// The body's shape: `count` a whole number (`2.0` is one, `1.5`, `1e30` and `true` are
    /// not), `prefix` an optional string.
    private struct Fields: Decodable {
        var count: Int
        var prefix: String?

        private enum CodingKeys: String, CodingKey { case count, prefix }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // Read as a number first: Foundation's decoder calls a fraction where an `Int` is
            // expected "not valid JSON", which would hide which field is wrong.
            let number = try container.decode(Double.self, forKey: .count)
            guard let whole = Int(exactly: number) else {
                throw DecodingError.typeMismatch(Int.self, .init(codingPath: container.codingPath + [CodingKeys.count],
                                                                 debugDescription: "\(number) is not a whole number"))
            }
            count = whole
            prefix = try container.decodeIfPresent(String.self, forKey: .prefix)
        }
    }

}
