import WSScaleCore

extension HostSessions {
    /// The entry without what the host says of itself (written at its renewals, so a test
    /// comparing counts and flags need not wait for one).
    public var recordOnly: HostSessions {
        HostSessions(host: host, sessions: sessions, draining: draining)
    }
}
