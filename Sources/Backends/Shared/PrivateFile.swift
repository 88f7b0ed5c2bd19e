#if canImport(Glibc)
import Glibc
#endif

/// Writes files that hold secrets: mode 0600 from their first byte, written under a temporary
/// name and renamed into place, so a reader never sees half of one and nobody else ever can.
public enum PrivateFile {
    /// Why a write failed: the path and the system's reason.
    public struct WriteError: Error, CustomStringConvertible {
        /// What failed, naming the file.
        public var description: String
        /// A failure described by `description`.
        public init(description: String) { self.description = description }
    }

    /// Writes `text` to `path` (replacing it), mode 0600.
    public static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw WriteError(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let failure = written == bytes.count ? 0 : errno
        close(fd)
        guard failure == 0, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(failure == 0 ? errno : failure))
            unlink(temporary)
            throw WriteError(description: "cannot write \(path): \(reason)")
        }
    }
}
