import Foundation
import WSScaleClient

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
        let parsed = JSONObjectBody.fields(of: body, example: "{\"count\": 10, \"prefix\": \"user\"}")
        guard let fields = parsed.fields else { throw Rejection(reason: parsed.reason ?? "body is not a JSON object") }
        guard fields["count"] != nil else { throw Rejection(reason: "field \"count\" is missing") }
        let typed: Fields
        do {
            typed = try JSONDecoder().decode(Fields.self, from: Data(body))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw Self.rejection(at: context.codingPath)
        } catch let DecodingError.valueNotFound(_, context) {
            throw Self.rejection(at: context.codingPath)
        } catch {
            throw Rejection(reason: "body cannot be read: \(error)")
        }
        try self.init(count: typed.count, prefix: typed.prefix ?? Self.defaultPrefix)
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

    /// The fields with their JSON types (a boolean or a fraction is no `Int`).
    private struct Fields: Decodable {
        var count: Int
        var prefix: String?
    }

    private static func rejection(at path: [any CodingKey]) -> Rejection {
        switch path.first?.stringValue {
        case "prefix": return Rejection(reason: "field \"prefix\" must be a string")
        default: return Rejection(reason: "field \"count\" must be a whole number")
        }
    }
}
