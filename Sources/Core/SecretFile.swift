import Foundation

/// A file that holds one secret value (`*_FILE` variables: `WSSCALE_ADMIN_TOKEN_FILE`,
/// `REDIS_URL_FILE`, …): the value is the file's text without surrounding whitespace, and the
/// file must not be readable by every user.
public enum SecretFile {
    /// Why a secret file was refused.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        /// What is wrong, naming the file (never its content).
        public var message: String
        /// The message.
        public var description: String { message }
    }

    /// The largest secret file read.
    public static let maximumBytes = 4096

    /// Reads the secret in `path`.
    public static func read(path: String) -> Result<String, Problem> {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            return .failure(Problem(message: "cannot read \(path): no such file or no permission"))
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o007 != 0 {
            return .failure(Problem(message: "\(path) is readable by every user (mode \(String(mode, radix: 8))): chmod o-rwx it"))
        }
        if let size = (attributes[.size] as? NSNumber)?.intValue, size > maximumBytes {
            return .failure(Problem(message: "\(path) is larger than \(maximumBytes) bytes"))
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maximumBytes else {
            return .failure(Problem(message: "cannot read \(path), or it is larger than \(maximumBytes) bytes"))
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return .failure(Problem(message: "\(path) is empty")) }
        return .success(text)
    }
}

extension EnvironmentReader {
    /// A secret setting: `name`'s value, or the content of the file `<name>_FILE` names
    /// (`SecretFile`). Both set, or an unusable file, is reported under `<name>_FILE`.
    /// - Returns: the value, or `nil` when neither is set (or the file was refused).
    public mutating func secret(_ name: String) -> String? {
        let direct = raw(name)
        let fileVariable = name + "_FILE"
        guard let path = raw(fileVariable) else { return direct }
        if direct != nil {
            report(fileVariable, "set either \(name) or \(fileVariable), not both")
            return nil
        }
        switch SecretFile.read(path: path) {
        case .success(let value): return value
        case .failure(let problem):
            report(fileVariable, problem.message)
            return nil
        }
    }

    /// Whether `name` or `<name>_FILE` is set.
    public func isSet(secret name: String) -> Bool {
        raw(name) != nil || raw(name + "_FILE") != nil
    }
}
