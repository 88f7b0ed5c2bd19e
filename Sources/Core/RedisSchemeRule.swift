/// What wsscale says about Redis addresses it cannot use, shared by every reader of one.
public enum RedisSchemeRule {
    /// Why `rediss://` is refused at startup.
    public static let tlsProblem = "rediss:// (TLS) is not supported: wsscale's Redis client speaks plain TCP. "
        + "Keep Redis on a private network or loopback, or put a local TLS tunnel (stunnel) in front of it, and use redis://"

    /// `url` with any `user:password@` part masked, for error messages.
    public static func shownWithoutCredentials(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
    }
}
