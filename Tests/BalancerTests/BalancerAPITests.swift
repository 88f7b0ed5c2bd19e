import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import WSScaleBalancer
import WSScaleCore

@Suite struct BalancerAPITests {
    static func sampleStatus() -> PoolStatus {
        let instances = [
            InstanceStatus(id: "ws-a", state: .active, endpoint: Endpoint(host: "127.0.0.1", port: 4001),
                           sessions: 8, utilizationPercent: 80, proxyState: .ready,
                           proxyConnections: 8, proxyDisagrees: false, ageSeconds: 10, secondsInState: 9),
            InstanceStatus(id: "ws-b", state: .draining, endpoint: Endpoint(host: "127.0.0.1", port: 4002),
                           sessions: 2, utilizationPercent: 20, proxyState: .drain,
                           proxyConnections: 3, proxyDisagrees: true, ageSeconds: 20, secondsInState: 5),
        ]
        let decision = Decision(sequence: 1, timestamp: 1_700_000_000_000, kind: .plan,
                                reasons: ["utilization 85.0% > 80%: launching 1"],
                                plan: ScalePlan(launch: 1), dryRun: false)
        return PoolStatus(driver: "process", dryRun: false, connectionLimitPerHost: 10, instances: instances,
                          totalSessions: 10, utilizationPercent: 100, decisions: [decision],
                          observedAt: 1_700_000_000_000, lastError: nil,
                          leadership: LeadershipStatus(holder: "b2/9f", leading: false,
                                                       leader: LeaderRecord(holder: "b1/3c", token: 4, since: 1_700_000_000_000)))
    }

    @Test func topologyIsTheStatusAsJSON() async throws {
        let api = BalancerAPI(status: { Self.sampleStatus() })
        let app = Application(router: api.makeRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/topology", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let decoded = try JSONDecoder().decode(PoolStatus.self, from: Data(buffer: response.body))
                #expect(decoded == Self.sampleStatus())
                // Who leads, since when, with which token, as external tools read it.
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let leadership = json?["leadership"] as? [String: Any]
                let leader = leadership?["leader"] as? [String: Any]
                #expect(leadership?["leading"] as? Bool == false && leadership?["holder"] as? String == "b2/9f")
                #expect(leader?["holder"] as? String == "b1/3c" && leader?["token"] as? Int == 4
                        && leader?["since"] as? Int == 1_700_000_000_000)
            }
        }
    }

    @Test func metricsCountInstancesSessionsAndDecisions() async throws {
        let api = BalancerAPI(status: { Self.sampleStatus() })
        let app = Application(router: api.makeRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"wsscale_pool_instances{state="active"} 1"#))
                #expect(text.contains(#"wsscale_pool_instances{state="draining"} 1"#))
                #expect(text.contains("wsscale_pool_sessions 10"))
                #expect(text.contains(#"wsscale_instance_disagreement{instance="ws-b"} 1"#))
                // A standby, and the token of the leader it sees.
                #expect(text.contains("wsscale_leader 0"))
                #expect(text.contains("wsscale_leader_token 4"))
                // HAProxy's count, under its name and its deprecated one.
                for name in ["wsscale_instance_proxy_connections", "wsscale_instance_balancer_connections"] {
                    #expect(text.contains(#"\#(name){instance="ws-b"} 3"#), "\(name)")
                }
                #expect(text.contains(#"wsscale_decisions_total{kind="plan"} 1"#))
            }
            // A second scrape does not count the same decision twice.
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains(#"wsscale_decisions_total{kind="plan"} 1"#))
            }
        }
    }

    @Test func metricsCountStackRestarts() async throws {
        let api = BalancerAPI(status: { Self.sampleStatus() })
        api.metrics.declareStackProcess("redis")
        api.metrics.declareStackProcess("haproxy")
        api.metrics.countStackRestart(process: "haproxy")
        api.metrics.countStackRestart(process: "haproxy")
        let app = Application(router: api.makeRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"wsscale_stack_restarts_total{process="redis"} 0"#))
                #expect(text.contains(#"wsscale_stack_restarts_total{process="haproxy"} 2"#))
            }
        }
    }

    @Test func healthAnswersOK() async throws {
        let app = Application(router: BalancerAPI(status: { Self.sampleStatus() }).makeRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
