import Testing

/// Tests of the whole system as `wsscale up` runs it (real redis-server, HAProxy and
/// `wsscale server` processes), driven through its HTTP APIs.
///
/// Serialized, nested suites included: every test starts its own stack, and two stacks at
/// once would compete for the machine's two cores and blur the timing bounds.
@Suite("wsscale up on the real stack", .serialized)
enum RealStackTests {}
