import Foundation

/// Any JSON value, decoded without a schema: what the engine proxy reads a create body as,
/// checks field by field, and encodes again for the engine (so that the engine reads exactly
/// what was checked, whatever escapes, duplicate keys or key spellings the caller sent).
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .integer(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    /// The string, when this is one.
    var string: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    /// The object's members, when this is an object.
    var object: [String: JSONValue]? {
        if case let .object(value) = self { return value }
        return nil
    }

    /// The array's items, when this is an array.
    var array: [JSONValue]? {
        if case let .array(value) = self { return value }
        return nil
    }

    /// The whole number, when this is one.
    var integer: Int64? {
        if case let .integer(value) = self { return value }
        return nil
    }

    /// The strings of an array of strings; `nil` when this is not one.
    var strings: [String]? {
        guard let items = array else { return nil }
        let strings = items.compactMap(\.string)
        return strings.count == items.count ? strings : nil
    }
}
