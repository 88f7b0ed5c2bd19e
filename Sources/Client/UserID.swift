/// The rule for user ids, the same as the server's: 1 to 128 characters of `[A-Za-z0-9._@-]`.
public enum UserID {
    /// The longest user id.
    public static let maxLength = 128

    /// Whether `id` is a valid user id.
    public static func isValid(_ id: String) -> Bool {
        let scalars = id.unicodeScalars
        guard !scalars.isEmpty, scalars.count <= maxLength else { return false }
        return scalars.allSatisfy(isAllowed)
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "@", "-": return true
        default: return false
        }
    }
}
