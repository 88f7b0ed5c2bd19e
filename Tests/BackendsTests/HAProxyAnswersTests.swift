import Testing
import WSScaleBackends
import WSScaleCore

/// Parsing of the runtime API's answers, on text captured from HAProxy 2.6.12.
@Suite struct HAProxyAnswersTests {
    static let serversState = """
    1
    # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
    4 servers 1 ws-1 127.0.0.1 0 1 1 1 0 1 0 0 2 0 0 0 - 18101 - 0 0 - - 0
    4 servers 2 ws-2 127.0.0.1 2 0 1 1 3 6 3 1 6 0 0 0 - 18102 - 0 0 - - 0
    4 servers 3 ws-3 127.0.0.1 2 8 1 1 3 6 3 1 6 0 0 0 - 18103 - 0 0 - - 0

    """

    static let stat = """
    # pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code
    servers,ws-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,1,,,1,4,1,,0,,2,0,,0,,
    servers,ws-2,0,0,7,7,,9,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,3,0,,1,4,2,,9,,2,0,,1,L7OK,200
    servers,ws-3,0,0,2,3,,3,0,0,,0,,0,0,0,0,DRAIN,1,1,0,0,0,3,0,,1,4,3,,3,,2,0,,1,L7OK,200
    servers,BACKEND,0,0,9,9,,12,0,0,0,0,,0,0,0,0,UP,2,2,0,,0,3,0,,1,4,0,,12,,1,0,,1,,

    """

    @Test func joinsStateAndStatPerServer() {
        let servers = HAProxyAnswers.servers(serversState: Self.serversState, stat: Self.stat, backend: "servers")
        #expect(servers.map(\.proxyServer) == [
            ProxyServer(id: "ws-1", endpoint: Endpoint(host: "127.0.0.1", port: 18101), state: .maintenance, healthy: false, currentConnections: 0),
            ProxyServer(id: "ws-2", endpoint: Endpoint(host: "127.0.0.1", port: 18102), state: .ready, healthy: true, currentConnections: 7),
            ProxyServer(id: "ws-3", endpoint: Endpoint(host: "127.0.0.1", port: 18103), state: .drain, healthy: true, currentConnections: 2),
        ])
        #expect(servers.map(\.checkStatus) == ["", "L7OK", "L7OK"])
    }

    @Test func ignoresOtherBackends() {
        #expect(HAProxyAnswers.servers(serversState: Self.serversState, stat: Self.stat, backend: "other").isEmpty)
    }

    @Test func readsTheProcessIdentityFromShowInfo() throws {
        let info = HAProxyAnswers.parseInfo("Name: HAProxy\nVersion: 2.6.12\nPid: 23461\nUptime_sec: 7\nStart_time_sec: 1795644048\n\n")
        let identity = try #require(HAProxyProcessIdentity(info: info))
        #expect(identity == HAProxyProcessIdentity(pid: 23461, startTime: 1795644048, uptimeSeconds: 99))
        #expect(identity != HAProxyProcessIdentity(pid: 23462, startTime: 1795644048, uptimeSeconds: 7))
        #expect(HAProxyProcessIdentity(info: ["Name": "HAProxy"]) == nil)
    }
}
