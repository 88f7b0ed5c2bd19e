#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleCore

/// The admin token `wsscale up` keeps in its state directory when none is configured:
/// `<state dir>/admin-token`, created once (mode 0600, random, ``AdminToken/generate()``) and
/// reused by every later `up` in that directory.
public enum AdminTokenFile {
    /// The file's name in the state directory.
    public static let fileName = "admin-token"

    /// What `ensure(in:)` found or made.
    public struct Outcome: Sendable, Equatable {
        /// The file's absolute path.
        public var path: String
        /// Whether this call created it.
        public var created: Bool
    }

    /// Makes sure `<directory>/admin-token` holds a usable token, creating the directory (0700)
    /// and the file (0600, never world-readable at any moment) when missing.
    /// - Throws: `AdminToken.FileProblem` when the existing file is unusable (world-readable,
    ///   not a token), or the file cannot be created.
    public static func ensure(in directory: String) throws -> Outcome {
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = absolute + "/" + fileName
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if descriptor < 0 {
            guard errno == EEXIST else {
                throw AdminToken.FileProblem(message: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            _ = try AdminToken.load(path: path).get()
            return Outcome(path: path, created: false)
        }
        defer { close(descriptor) }
        let text = Array((AdminToken.generate().value + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count else {
            unlink(path)
            throw AdminToken.FileProblem(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return Outcome(path: path, created: true)
    }
}
