import Foundation

/// Builds the query part of a URL.
public enum HTTPQuery {
    /// Characters left as they are in a query name or value (RFC 3986 unreserved).
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Percent-encodes `parameters` as `name=value&…`, sorted by name so that equal
    /// parameters always give the same text.
    /// - Parameter parameters: names and values, unencoded.
    /// - Returns: the encoded query without the leading `?`; empty when there is none.
    public static func encode(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }
            .map { "\(escape($0.key))=\(escape($0.value))" }
            .joined(separator: "&")
    }

    /// Percent-encodes one name or value.
    public static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
