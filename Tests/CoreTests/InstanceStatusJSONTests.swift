import Foundation
import Testing
import WSScaleCore

/// `/api/topology`'s instances name HAProxy's view `proxy…`, and still carry the `balancer…`
/// names they had before, for the tools that read them.
@Suite("Instance status JSON")
struct InstanceStatusJSONTests {
    private let status = InstanceStatus(id: "ws-a", state: .active, endpoint: Endpoint(host: "127.0.0.1", port: 9001),
                                        sessions: 4, utilizationPercent: 40, proxyState: .drain, proxyConnections: 5,
                                        proxyDisagrees: true, ageSeconds: 3, secondsInState: 2)

    private func object(_ value: some Encodable) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    @Test("the proxy's fields are written under their names and their deprecated balancer… aliases, with the same values")
    func writesBothNames() throws {
        let json = try object(status)
        #expect(json["proxyState"] as? String == "drain")
        #expect(json["balancerState"] as? String == "drain")
        #expect(json["proxyConnections"] as? Int == 5)
        #expect(json["balancerConnections"] as? Int == 5)
        #expect(json["proxyDisagrees"] as? Bool == true)
        #expect(json["balancerDisagrees"] as? Bool == true)
    }

    @Test("a status round-trips, and one written with only the old names reads the same")
    func readsNewAndOldNames() throws {
        let data = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(InstanceStatus.self, from: data) == status)
        var json = try object(status)
        for name in ["proxyState", "proxyConnections", "proxyDisagrees"] { json[name] = nil }
        let old = try JSONSerialization.data(withJSONObject: json)
        #expect(try JSONDecoder().decode(InstanceStatus.self, from: old) == status)
    }

    @Test("a server the proxy lacks has neither name")
    func absentFromTheProxy() throws {
        var missing = status
        missing.proxyState = nil
        missing.proxyConnections = nil
        let json = try object(missing)
        #expect(json["proxyState"] == nil && json["balancerState"] == nil)
        #expect(json["proxyConnections"] == nil && json["balancerConnections"] == nil)
    }
}
