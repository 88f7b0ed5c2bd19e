import Foundation
import Testing
import WSScaleCore
import WSScaleCurlHTTP
@testable import WSScaleBackends

/// The engine proxy's rules, call by call: what the Docker driver sends passes; every
/// create field outside the allow-list, every other image, network, name or host address is
/// refused with a reason naming it. Pure (the proxy in front of the real daemon is in
/// `DockerEngineProxyTests`).
@Suite struct EngineProxyPolicyTests {
    static let networked = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1", reachability: .network(name: "wsscale_net"))
    static let published = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1")

    let policy = EngineProxyPolicy(configuration: networked)

    /// The body the driver sends for instance `ws-1`.
    static func driverBody(_ configuration: ContainerDriverConfiguration) throws -> Data {
        try JSONEncoder().encode(DockerContainerSpec.make(for: LaunchRequest(id: "ws-1"), configuration: configuration).spec)
    }

    func create(_ body: String, name: String = "p1-ws-1", policy: EngineProxyPolicy? = nil) -> EngineProxyDecision {
        (policy ?? self.policy).decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=\(name)", body: Data(body.utf8)))
    }

    func reason(_ decision: EngineProxyDecision) -> String? {
        if case let .refuse(status, reason) = decision, status == 403 { return reason }
        return nil
    }

    @Test(arguments: [networked, published])
    func letsTheDriversCreateThrough(configuration: ContainerDriverConfiguration) throws {
        let body = try Self.driverBody(configuration)
        let decision = EngineProxyPolicy(configuration: configuration)
            .decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=p1-ws-1", body: body))
        guard case let .forward(method, uri, forwarded?) = decision else { Issue.record("refused: \(decision)"); return }
        #expect(method == "POST")
        #expect(uri == "/v1.41/containers/create?name=p1-ws-1")
        // What goes on is the checked value encoded again: the same JSON.
        let sent = try JSONDecoder().decode(JSONValue.self, from: forwarded)
        #expect(sent == (try JSONDecoder().decode(JSONValue.self, from: body)))
    }

    /// The bodies the issue found passing the old proxy, and a few more; each names its field.
    @Test(arguments: [
        (#""HostConfig":{"NetworkMode":"wsscale_net","ReadonlyPaths":[]}"#, "\"ReadonlyPaths\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","MaskedPaths":[]}"#, "\"MaskedPaths\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","CgroupParent":"/"}"#, "\"CgroupParent\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","Runtime":"runc"}"#, "\"Runtime\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","CapAdd":["SYS_ADMIN"]}"#, "\"CapAdd\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","Privil\u0065ged":true}"#, "\"Privileged\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","privileged":true}"#, "\"privileged\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","Binds":["/:/host"]}"#, "\"Binds\""),
        (#""HostConfig":{"NetworkMode":"host"}"#, "NetworkMode must be \"wsscale_net\""),
        (#""HostConfig":{"NetworkMode":"other_net"}"#, "NetworkMode must be \"wsscale_net\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net","RestartPolicy":{"Name":"always"}}"#, "RestartPolicy"),
        (#""HostConfig":{"NetworkMode":"wsscale_net","PortBindings":{"8088/tcp":[{"HostIp":"0.0.0.0","HostPort":""}]}}"#, "publishes no port"),
        (#""HostConfig":{"NetworkMode":"wsscale_net"},"User":"0""#, "\"User\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net"},"Capabilities":["CAP_SYS_ADMIN"]"#, "\"Capabilities\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net"},"NetworkingConfig":{}"#, "\"NetworkingConfig\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net"},"Entrypoint":["/bin/sh"]"#, "\"Entrypoint\""),
        (#""HostConfig":{"NetworkMode":"wsscale_net"},"Cmd":["sh","-c","id"]"#, "Cmd must be absent"),
    ])
    func refusesAFieldOutsideTheAllowList(extra: String, named: String) {
        let body = #"{"Image":"wsscale:local","Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"},"# + extra + "}"
        let refusal = reason(create(body))
        #expect(refusal?.contains(named) == true, "\(extra): \(String(describing: refusal))")
    }

    @Test func refusesAnotherImageAnotherPoolOrAnotherName() {
        let labels = #""Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"},"HostConfig":{"NetworkMode":"wsscale_net"}"#
        #expect(reason(create(#"{"Image":"debian:bookworm","# + labels + "}"))?.contains("Image must be \"wsscale:local\"") == true)
        #expect(reason(create(#"{"image":"wsscale:local","# + labels + "}"))?.contains("\"image\"") == true)
        let otherPool = #"{"Image":"wsscale:local","Labels":{"wsscale.pool":"p2","wsscale.instance":"ws-1","wsscale.port":"8088"},"HostConfig":{"NetworkMode":"wsscale_net"}}"#
        #expect(reason(create(otherPool))?.contains("wsscale.pool must be \"p1\"") == true)
        let extraLabel = #"{"Image":"wsscale:local","Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088","x":"y"},"HostConfig":{"NetworkMode":"wsscale_net"}}"#
        #expect(reason(create(extraLabel))?.contains("\"x\"") == true)
        let good = #"{"Image":"wsscale:local","# + labels + "}"
        if case .forward = create(good) {} else { Issue.record("the minimal body was refused: \(create(good))") }
        #expect(reason(create(good, name: "intruder"))?.contains("must start with \"p1-\"") == true)
        #expect(reason(create(good, name: "p1-"))?.contains("must start with \"p1-\"") == true)
        #expect(reason(policy.decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create", body: Data(good.utf8)))) != nil)
        #expect(reason(create("[1]")) == "the create body: is not a JSON object")
        #expect(reason(policy.decide(EngineProxyRequest(method: "POST", uri: "/v1.41/containers/create?name=p1-a", body: Data(good.utf8), isEncoded: true))) != nil)
    }

    @Test func publishesOnlyOnTheConfiguredAddress() throws {
        let policy = EngineProxyPolicy(configuration: Self.published)
        let labels = #""Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"}"#
        let wildcard = #"{"Image":"wsscale:local","# + labels + #","HostConfig":{"PortBindings":{"8088/tcp":[{"HostIp":"0.0.0.0","HostPort":""}]}}}"#
        #expect(reason(create(wildcard, policy: policy))?.contains(#"[{"HostIp": "127.0.0.1", "HostPort": ""}]"#) == true)
        let fixedPort = #"{"Image":"wsscale:local","# + labels + #","HostConfig":{"PortBindings":{"8088/tcp":[{"HostIp":"127.0.0.1","HostPort":"22"}]}}}"#
        #expect(reason(create(fixedPort, policy: policy)) != nil)
        let loopback = #"{"Image":"wsscale:local","# + labels + #","HostConfig":{"PortBindings":{"8088/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}}}"#
        if case .forward = create(loopback, policy: policy) {} else { Issue.record("refused: \(create(loopback, policy: policy))") }
    }

    @Test func touchesOnlyThePoolsContainersByName() {
        func decide(_ method: String, _ uri: String) -> EngineProxyDecision { policy.decide(EngineProxyRequest(method: method, uri: uri)) }
        #expect(decide("POST", "/v1.41/containers/p1-ws-1/start") == .forward(method: "POST", uri: "/v1.41/containers/p1-ws-1/start", body: nil))
        #expect(decide("POST", "/v1.41/containers/p1-ws-1/stop?t=3") == .forward(method: "POST", uri: "/v1.41/containers/p1-ws-1/stop?t=3", body: nil))
        #expect(decide("DELETE", "/v1.41/containers/p1-ws-1?force=0&v=1") == .forward(method: "DELETE", uri: "/v1.41/containers/p1-ws-1?force=0&v=1", body: nil))
        #expect(decide("GET", "/v1.41/containers/p1-ws-1/json") == .forward(method: "GET", uri: "/v1.41/containers/p1-ws-1/json", body: nil))
        for (method, uri) in [("POST", "/v1.41/containers/redis/stop"), ("DELETE", "/v1.41/containers/0123abcd"),
                              ("POST", "/v1.41/containers/0123abcd/start"), ("GET", "/v1.41/containers/balancer/json"),
                              ("POST", "/v1.41/containers/p1-ws-1/stop?t=99999"), ("POST", "/v1.41/containers/p1-ws-1/stop?t=1&t=2"),
                              ("DELETE", "/v1.41/containers/p1-ws-1?link=1"), ("POST", "/v1.41/containers/p1-ws-1/kill"),
                              ("POST", "/v1.41/containers/p1-ws-1/exec"), ("GET", "/v1.41/containers/p1-ws-1/logs"),
                              ("POST", "/v1.41/images/create?fromImage=alpine"), ("POST", "/v1.23/containers/p1-ws-1/start"),
                              ("GET", "/v1.41/info"), ("GET", "/v1.41/containers/json?all=1"),
                              ("GET", "/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22wsscale.pool%3Dp2%22%5D%7D")] {
            #expect(reason(decide(method, uri)) != nil, "\(method) \(uri) was let through")
        }
        // Percent-encoded or dotted paths are not read as paths at all.
        #expect(decide("POST", "/v1.41/containers/p1-ws-1/../redis/stop") == .refuse(status: 400, reason: "the request target is not a plain path (letters, digits, '/', '_', '.', '-') with an optional query"))
        #expect(decide("POST", "/v1.41/containers/p1-%72edis/stop") != .forward(method: "POST", uri: "/v1.41/containers/p1-%72edis/stop", body: nil))
    }

    @Test func listsAndWatchesOnlyThroughThePoolsLabel() {
        let filters = HTTPQuery.escape(#"{"label":["wsscale.pool=p1"]}"#)
        let decision = policy.decide(EngineProxyRequest(method: "GET", uri: "/v1.41/containers/json?all=1&filters=\(filters)"))
        #expect(decision == .forward(method: "GET", uri: "/v1.41/containers/json?all=1&filters=\(filters)", body: nil))
        let events = HTTPQuery.escape(#"{"event":["die"],"label":["wsscale.pool=p1"],"type":["container"]}"#)
        if case .forward = policy.decide(EngineProxyRequest(method: "GET", uri: "/v1.41/events?filters=\(events)&since=1.5")) {} else {
            Issue.record("the driver's event stream was refused")
        }
        #expect(reason(policy.decide(EngineProxyRequest(method: "GET", uri: "/v1.41/events"))) != nil)
        #expect(policy.decide(EngineProxyRequest(method: "GET", uri: "/_ping")) == .forward(method: "GET", uri: "/_ping", body: nil))
    }

    /// The label given twice: whichever one the check read, the engine gets that one alone, never
    /// the empty list that would show every container on the host.
    @Test(arguments: [#"{"label":["wsscale.pool=p1"],"label":[]}"#, #"{"label":[],"label":["wsscale.pool=p1"]}"#,
                      #"{"label":["wsscale.pool=p1"],"label":["wsscale.pool=other"]}"#])
    func aFilterKeyGivenTwiceIsForwardedAsChecked(_ text: String) throws {
        for path in ["/v1.41/containers/json?all=1&filters=", "/v1.41/events?filters="] {
            let decision = policy.decide(EngineProxyRequest(method: "GET", uri: path + HTTPQuery.escape(text)))
            guard case .forward(_, let uri, _) = decision else { continue }  // refused: nothing reaches the engine
            let forwarded = try #require(URLComponents(string: "http://engine" + uri)?.queryItems?.first { $0.name == "filters" }?.value)
            #expect(forwarded == #"{"label":["wsscale.pool=p1"]}"#, "\(path)\(text) went on as \(forwarded)")
        }
    }
}
