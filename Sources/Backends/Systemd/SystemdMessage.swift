#if canImport(Glibc)
import Glibc
#endif
import CSystemd

/// Typed reads and writes on one sd-bus message, without sd-bus's variadic functions
/// (which Swift cannot call): `sd_bus_message_append_basic`, `…_read_basic`,
/// `…_open_container` / `…_enter_container` and their closing counterparts.
///
/// Valid only during the call or signal handler that got the message, on the bus thread.
struct SystemdMessage {
    private let message: OpaquePointer

    init(_ message: OpaquePointer) {
        self.message = message
    }

    /// The object path the message is about (a signal's sender object).
    var path: String? {
        sd_bus_message_get_path(message).map { String(cString: $0) }
    }

    // MARK: Writing

    /// Appends a string (`s`).
    func append(_ text: String) throws {
        try check("append s", text.withCString { sd_bus_message_append_basic(message, Self.type("s"), $0) })
    }

    /// Appends a 32-bit integer (`i`).
    func append(_ value: Int32) throws {
        var value = value
        try check("append i", sd_bus_message_append_basic(message, Self.type("i"), &value))
    }

    /// Appends an array of strings (`as`).
    func append(_ texts: [String]) throws {
        try check("open as", sd_bus_message_open_container(message, Self.type("a"), "s"))
        for text in texts { try append(text) }
        try check("close as", sd_bus_message_close_container(message))
    }

    // MARK: Reading

    /// Reads a string (`s`).
    func readString() throws -> String {
        try readText("s")
    }

    /// Reads an object path (`o`).
    func readObjectPath() throws -> String {
        try readText("o")
    }

    /// Reads an unsigned 32-bit integer (`u`).
    func readUInt32() throws -> UInt32 {
        var value: UInt32 = 0
        try check("read u", sd_bus_message_read_basic(message, Self.type("u"), &value))
        return value
    }

    /// Reads a 32-bit integer (`i`).
    func readInt32() throws -> Int32 {
        var value: Int32 = 0
        try check("read i", sd_bus_message_read_basic(message, Self.type("i"), &value))
        return value
    }

    /// Reads a variant (`v`) holding a string or an `i`/`u` integer, as text; other contents
    /// are skipped and give `nil`.
    func readVariant() throws -> String? {
        var kind: CChar = 0
        var contents: UnsafePointer<CChar>?
        try check("peek v", sd_bus_message_peek_type(message, &kind, &contents))
        let signature = contents.map { String(cString: $0) } ?? ""
        switch signature {
        case "s", "o":
            try check("enter v", sd_bus_message_enter_container(message, Self.type("v"), signature))
            let text = try readText(signature == "s" ? "s" : "o")
            try check("exit v", sd_bus_message_exit_container(message))
            return text
        case "i":
            try check("enter v", sd_bus_message_enter_container(message, Self.type("v"), "i"))
            let value = try readInt32()
            try check("exit v", sd_bus_message_exit_container(message))
            return String(value)
        case "u":
            try check("enter v", sd_bus_message_enter_container(message, Self.type("v"), "u"))
            let value = try readUInt32()
            try check("exit v", sd_bus_message_exit_container(message))
            return String(value)
        default:
            try check("skip v", sd_bus_message_skip(message, "v"))
            return nil
        }
    }

    /// Reads a property dictionary (`a{sv}`), keeping the string and integer values as text.
    func readStringVariants() throws -> [String: String] {
        var result: [String: String] = [:]
        try check("enter a{sv}", sd_bus_message_enter_container(message, Self.type("a"), "{sv}"))
        while try enter("e", "sv") {
            let key = try readString()
            if let value = try readVariant() { result[key] = value }
            try check("exit {sv}", sd_bus_message_exit_container(message))
        }
        try check("exit a{sv}", sd_bus_message_exit_container(message))
        return result
    }

    /// Reads the reply of `ListUnitsByPatterns` (`a(ssssssouso)`): each unit's name and `ActiveState`.
    func readUnitList() throws -> [(name: String, activeState: String)] {
        var units: [(name: String, activeState: String)] = []
        try check("enter a(ssssssouso)", sd_bus_message_enter_container(message, Self.type("a"), "(ssssssouso)"))
        while try enter("r", "ssssssouso") {
            let name = try readString()
            _ = try readString() // description
            _ = try readString() // load state
            let active = try readString()
            try check("skip unit fields", sd_bus_message_skip(message, "ssouso"))
            try check("exit (ssssssouso)", sd_bus_message_exit_container(message))
            units.append((name, active))
        }
        try check("exit a(ssssssouso)", sd_bus_message_exit_container(message))
        return units
    }

    // MARK: Object paths

    /// The object path of a unit (`/org/freedesktop/systemd1/unit/<escaped name>`).
    static func path(ofUnit unit: String) throws -> String {
        var path: UnsafeMutablePointer<CChar>?
        let result = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path)
        guard result >= 0, let path else { throw SystemdBusError.local("sd_bus_path_encode", result) }
        defer { free(path) }
        return String(cString: path)
    }

    /// The unit a unit object path names, or `nil` for another object.
    static func unitName(ofPath path: String) -> String? {
        var name: UnsafeMutablePointer<CChar>?
        guard sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &name) > 0, let name else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    // MARK: Plumbing

    private func readText(_ kind: String) throws -> String {
        var text: UnsafePointer<CChar>?
        try check("read \(kind)", sd_bus_message_read_basic(message, Self.type(kind), &text))
        return text.map { String(cString: $0) } ?? ""
    }

    /// Enters the next container of an array; `false` at the array's end.
    private func enter(_ kind: String, _ contents: String) throws -> Bool {
        let result = sd_bus_message_enter_container(message, Self.type(kind), contents)
        try check("enter \(contents)", result)
        return result > 0
    }

    private func check(_ what: String, _ result: Int32) throws {
        if result < 0 { throw SystemdBusError.local(what, result) }
    }

    private static func type(_ code: String) -> CChar {
        CChar(bitPattern: code.utf8.first ?? 0)
    }
}
