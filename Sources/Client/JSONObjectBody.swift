import Foundation

/// A request body that must be one JSON object: the first check of the HTTP APIs that answer
/// 400 with a reason (the client simulator's batches, the dashboard's requests).
public enum JSONObjectBody {
    /// The fields of `body`, or why it is not a JSON object.
    /// - Parameters:
    ///   - body: the raw bytes.
    ///   - example: an object of the expected shape, quoted in the reason.
    /// - Returns: the fields, or the reason: `body is not valid JSON`, or `body must be a JSON
    ///   object like <example>`.
    public static func fields(of body: [UInt8], example: String) -> (fields: [String: Any]?, reason: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body), options: []) else {
            return (nil, "body is not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            return (nil, "body must be a JSON object like \(example)")
        }
        return (fields, nil)
    }
}
