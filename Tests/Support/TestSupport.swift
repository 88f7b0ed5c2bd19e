/// Helpers shared by the test targets: free ports, starting real programs
/// (redis-server, haproxy, wsscale itself) and waiting for them.
public enum TestSupport {
    /// The admin token every test stack is configured with (`WSSCALE_ADMIN_TOKEN`) and
    /// `StackAPI` sends, unless a test says otherwise (`wsscale up` stacks use the token `up`
    /// generates in their state directory).
    public static let adminToken = "wsscale-test-admin-token-7f3a9c"
}
