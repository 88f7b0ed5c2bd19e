import Foundation

/// The request bodies of the HTTP APIs that answer 400 with a reason (the client simulator's
/// batches, the dashboard's requests): one JSON object, decoded with `Codable`, whose
/// problems are said in words and name the field.
public enum JSONBody {
    /// What is wrong with a body.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The kinds of problem.
        public enum Kind: Sendable, Equatable {
            /// The bytes are not JSON.
            case notJSON
            /// JSON, but not an object.
            case notAnObject
            /// A required field is absent.
            case missing
            /// A field holds a value of the wrong type (`null` included).
            case wrongType
        }

        /// The kind of problem.
        public let kind: Kind
        /// Where: the field's name, then array indexes and nested names (`["userIds", "3"]`).
        public let path: [String]
        /// The problem in words, for the 400 answer.
        public let reason: String

        public var description: String { reason }
    }

    /// Decodes `body` as `T`.
    /// - Parameters:
    ///   - type: the body's shape.
    ///   - body: the raw bytes (already bounded by the listener's body limit).
    ///   - example: an object of the expected shape, quoted when the body is not an object.
    /// - Throws: ``Problem``.
    public static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], example: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            let path = names(context.codingPath + [key])
            throw Problem(kind: .missing, path: path, reason: "field \"\(path.joined(separator: "."))\" is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw problem(at: context.codingPath, example: example)
        } catch let DecodingError.dataCorrupted(context) {
            guard !context.codingPath.isEmpty else {
                throw Problem(kind: .notJSON, path: [], reason: "body is not valid JSON")
            }
            throw problem(at: context.codingPath, example: example)
        } catch {
            throw Problem(kind: .notJSON, path: [], reason: "body is not valid JSON")
        }
    }

    private static func problem(at codingPath: [any CodingKey], example: String) -> Problem {
        let path = names(codingPath)
        guard !path.isEmpty else {
            return Problem(kind: .notAnObject, path: [], reason: "body must be a JSON object like \(example)")
        }
        return Problem(kind: .wrongType, path: path, reason: "field \"\(path[0])\" has the wrong type")
    }

    private static func names(_ codingPath: [any CodingKey]) -> [String] {
        codingPath.map { key in key.intValue.map(String.init) ?? key.stringValue }
    }
}
