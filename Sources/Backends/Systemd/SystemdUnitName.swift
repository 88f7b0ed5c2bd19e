import WSScaleCore

/// How instances of one pool are named as units of a template: `<prefix><pool>:<id>.service`,
/// e.g. `wsscale-server@blue:ws-3f2a.service` for the template `wsscale-server@.service`.
///
/// The instance part (`<pool>:<id>`, systemd's `%i`) is also the name of the instance's
/// environment file, so two pools never see each other's units or files. Pool names and ids
/// are `[A-Za-z0-9._-]`, which need no unit-name escaping; `:` separates them.
public struct SystemdUnitName: Sendable, Equatable {
    /// The template's prefix, up to and including `@` (`wsscale-server@`).
    public var prefix: String
    /// The pool.
    public var pool: String

    /// Names the units of one pool.
    public init(prefix: String, pool: String) {
        self.prefix = prefix
        self.pool = pool
    }

    /// The instance string (`%i`): `<pool>:<id>`.
    public func instance(_ id: InstanceID) -> String {
        "\(pool):\(id)"
    }

    /// The unit of an instance: `<prefix><pool>:<id>.service`.
    public func unit(_ id: InstanceID) -> String {
        "\(prefix)\(instance(id)).service"
    }

    /// The pattern `ListUnitsByPatterns` gets to list this pool's units only.
    public var pattern: String {
        "\(prefix)\(pool):*.service"
    }

    /// The instance id a unit of this pool names, or `nil` for a unit of another template or
    /// pool (or not an instance name wsscale makes).
    public func id(ofUnit unit: String) -> InstanceID? {
        let head = "\(prefix)\(pool):"
        let tail = ".service"
        guard unit.hasPrefix(head), unit.hasSuffix(tail), unit.count > head.count + tail.count else { return nil }
        let id = String(unit.dropFirst(head.count).dropLast(tail.count))
        return Self.isSafeName(id) ? id : nil
    }

    /// Whether a pool name or instance id uses only `[A-Za-z0-9._-]` (and is not empty).
    public static func isSafeName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// Whether a template prefix is a unit name's start ending in `@` (`[A-Za-z0-9:_.-]+@`).
    public static func isValidPrefix(_ prefix: String) -> Bool {
        guard prefix.hasSuffix("@"), prefix.count > 1 else { return false }
        return prefix.dropLast().split(separator: ":", omittingEmptySubsequences: true)
            .allSatisfy { isSafeName(String($0)) } && prefix.dropLast().contains { $0 != ":" }
    }
}
