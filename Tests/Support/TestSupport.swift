/// Helpers shared by the test targets: free ports, starting real programs
/// (redis-server, haproxy, wsscale itself) and waiting for them.
public enum TestSupport {}
