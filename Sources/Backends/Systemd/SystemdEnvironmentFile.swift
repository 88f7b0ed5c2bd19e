#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleCore

/// The per-instance environment file the template reads (`EnvironmentFile=/run/wsscale/%i.env`):
/// `<directory>/<pool>:<id>.env`, mode 0600 in a 0700 directory, written before the unit starts.
///
/// Secrets (a Redis password in `REDIS_URL`) travel only through this file: never on a command
/// line, never in a file others can read.
///
/// Encoding (systemd's EnvironmentFile syntax): one `KEY="value"` line per variable, sorted by
/// key, the value in double quotes with `\`, `"`, `` ` `` and `$` escaped by a backslash (inside
/// double quotes systemd removes the backslash before exactly these). Keys must be
/// `[A-Za-z_][A-Za-z0-9_]*`; values must not contain a newline, carriage return or NUL.
public struct SystemdEnvironmentFile: Sendable, Equatable {
    /// The variables, in no particular order.
    public var variables: [String: String]

    /// Wraps variables.
    public init(_ variables: [String: String]) {
        self.variables = variables
    }

    /// A variable the file cannot hold.
    public struct InvalidVariable: Error, Sendable, Equatable, CustomStringConvertible {
        /// The variable's name.
        public var key: String
        /// What is wrong with it.
        public var reason: String

        public var description: String { "environment variable \(key): \(reason)" }
    }

    /// The file's text.
    /// - Throws: `InvalidVariable` for a bad key or a value with a line break or NUL.
    public func encoded() throws -> String {
        var text = ""
        for (key, value) in variables.sorted(by: { $0.key < $1.key }) {
            guard Self.isValidKey(key) else {
                throw InvalidVariable(key: key, reason: "the name must be [A-Za-z_][A-Za-z0-9_]*")
            }
            guard !value.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" || $0 == "\r\n" }) else {
                throw InvalidVariable(key: key, reason: "the value must not contain a line break or NUL")
            }
            text += "\(key)=\"\(Self.escaped(value))\"\n"
        }
        return text
    }

    /// Reads a file this type wrote (the driver's own files, read back at adoption).
    /// Lines that are not `KEY="value"` are skipped.
    public static func decode(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            var rest = line[line.index(after: equals)...]
            guard isValidKey(key), rest.first == "\"", rest.last == "\"", rest.count >= 2 else { continue }
            rest = rest.dropFirst().dropLast()
            var value = ""
            var escaping = false
            for character in rest {
                if escaping {
                    if !"\\\"`$".contains(character) { value.append("\\") }
                    value.append(character)
                    escaping = false
                } else if character == "\\" {
                    escaping = true
                } else {
                    value.append(character)
                }
            }
            result[key] = value
        }
        return result
    }

    /// Whether a name is `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isValidKey(_ key: String) -> Bool {
        guard let first = key.utf8.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        return isLetter(first) && key.utf8.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func escaped(_ value: String) -> String {
        var text = ""
        for character in value {
            if "\\\"`$".contains(character) { text.append("\\") }
            text.append(character)
        }
        return text
    }
}

/// The folder of a pool's environment files, and the file operations on it.
struct SystemdEnvironmentDirectory: Sendable {
    /// The folder (`/run/wsscale`).
    var path: String
    /// How the pool's units are named (the file is `<instance>.env`).
    var names: SystemdUnitName

    /// The file of one instance.
    func filePath(_ id: InstanceID) -> String {
        "\(path)/\(names.instance(id)).env"
    }

    /// Writes an instance's file: the folder made 0700 if missing, the file written 0600
    /// under a temporary name and renamed into place, so systemd never reads half of it.
    func write(_ file: SystemdEnvironmentFile, for id: InstanceID) throws {
        let text = try file.encoded()
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw DriverError("cannot create \(path): \(String(cString: strerror(errno)))", instance: id)
        }
        do {
            try PrivateFile.write(text, to: filePath(id))
        } catch {
            throw DriverError("\(error)", instance: id)
        }
    }

    /// The variables of an instance's file, or `nil` when it cannot be read.
    func read(_ id: InstanceID) -> [String: String]? {
        guard let text = try? String(contentsOfFile: filePath(id), encoding: .utf8) else { return nil }
        return SystemdEnvironmentFile.decode(text)
    }

    /// The endpoint recorded in an instance's file (`SERVER_HOST`, `SERVER_PORT`).
    func endpoint(_ id: InstanceID) -> Endpoint? {
        guard let variables = read(id), let host = variables["SERVER_HOST"],
              let port = variables["SERVER_PORT"].flatMap(Int.init) else { return nil }
        return Endpoint(host: host, port: port)
    }

    /// Removes an instance's file (nothing happens when it is gone).
    func remove(_ id: InstanceID) {
        unlink(filePath(id))
    }
}
