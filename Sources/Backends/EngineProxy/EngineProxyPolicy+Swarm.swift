import Foundation

extension EngineProxyPolicy {
    /// The rules in swarm mode: the calls the swarm driver makes on a manager, for one pool's
    /// services, and nothing else (no container call, no `/swarm`, whose answer holds the join
    /// tokens, no node or secret call). After Docker's optional version prefix:
    ///
    /// | call | allowed when |
    /// |---|---|
    /// | `GET/HEAD /_ping`, `GET /version`, `GET /info`, `GET /nodes` | no query (the nodes: where a task's published port is reached) |
    /// | `GET /services`, `GET /tasks` | `filters` naming the label `wsscale.pool=<pool>` |
    /// | `GET /events` | `filters`, `since`, `until`; the filters name the pool's label |
    /// | `GET /services/{name}` | `name` starts with `<pool>-`, no query |
    /// | `DELETE /services/{name}` | prefixed name, no query, no body |
    /// | `POST /services/create` | no query, a body `SwarmCreateBodyRule` passes |
    func decideSwarm(_ request: EngineProxyRequest, _ target: EngineProxyTarget, segments: [String]) -> EngineProxyDecision {
        switch (request.method, segments.count) {
        case ("GET", 1) where ["_ping", "version", "info", "nodes"].contains(segments[0]),
             ("HEAD", 1) where segments == ["_ping"]:
            return noQuery(target, request) ?? forward(request, target, query: [:])
        case ("GET", 1) where segments == ["services"] || segments == ["tasks"]:
            return filtered(request, target, allowed: ["filters"], filterNames: nil)
        case ("GET", 1) where segments == ["events"]:
            return filtered(request, target, allowed: ["filters", "since", "until"], filterNames: nil)
        case ("GET", 2) where segments[0] == "services":
            return nameProblem(segments[1]) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("DELETE", 2) where segments[0] == "services":
            return nameProblem(segments[1]) ?? noBody(request) ?? noQuery(target, request) ?? forward(request, target, query: [:])
        case ("POST", 2) where segments == ["services", "create"]:
            if let refusal = noQuery(target, request) { return refusal }
            switch SwarmCreateBodyRule(policy: self).check(request.body) {
            case let .success(body): return forward(request, target, query: [:], body: body)
            case let .failure(problem): return .refuse(status: 403, reason: "the create body: \(problem.reason)")
            }
        default:
            return .refuse(status: 403, reason: "\(request.method) \(target.path) is not a call wsscale's swarm driver makes")
        }
    }
}
