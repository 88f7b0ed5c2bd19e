import Testing

/// The server tests that put thousands of connections through one process (slowloris, one
/// user id a thousand times): one at a time, on event loops of their own, so that they do not
/// starve the tests running beside them on a two-core machine.
@Suite("heavy load on one server", .serialized)
enum HeavyLoadTests {}
