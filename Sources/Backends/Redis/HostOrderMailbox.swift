import WSScaleCore

/// How the balancer's orders wait for a host in Redis until the host takes them, so an order
/// sent while the host's subscription is being made again is not lost (pub/sub alone drops
/// it), and orders repeated while it was away are carried out once.
///
/// - The balancer writes the order into the host's hash `P:host:{id}:orders`, under its kind
///   (`shed` = N, `state` = `drain` / `activate`), so a later order of a kind replaces the one
///   still waiting; renews the hash's life (`RedisKeySchema.orderLifetime`); then rings the
///   host's doorbell, `PUBLISH P:cmd:{id}`. `PUBLISH` counts the listeners: 1 means the host
///   heard it now, 0 that the order waits.
/// - The host takes the whole hash and deletes it in one `MULTI` whenever the doorbell rings,
///   and once each time its subscription is made (after `SUBSCRIBE`, so an order written
///   before is taken then, and one written after rings the doorbell it now hears).
enum HostOrderMailbox {
    /// The hash field and value an order waits under; `nil` for a drop, which is a peer's
    /// request on the drop channel, answered at once.
    static func entry(for command: HostCommand) -> (field: String, value: String)? {
        switch command {
        case .shed(let count): return ("shed", String(count))
        case .drain: return ("state", "drain")
        case .activate: return ("state", "activate")
        case .drop: return nil
        }
    }

    /// The balancer's pipeline for one order: write it, renew the hash's life, ring. The last
    /// reply (`PUBLISH`) is the number of listeners.
    static func sendCommands(_ command: HostCommand, to host: InstanceID, schema: RedisKeySchema) -> [[String]] {
        guard let entry = entry(for: command) else { return [] }
        let key = schema.orders(of: host)
        return [
            ["HSET", key, entry.field, entry.value],
            ["PEXPIRE", key, String(RedisKeySchema.orderLifetime.wholeMilliseconds)],
            ["PUBLISH", schema.commands(for: host), HostCommandWireFormat.encode(command)],
        ]
    }

    /// The host's pipeline taking its orders: `MULTI`, `HGETALL`, `DEL`, `EXEC`. `EXEC`'s
    /// reply (the last) holds `HGETALL`'s first.
    static func takeCommands(host: InstanceID, schema: RedisKeySchema) -> [[String]] {
        let key = schema.orders(of: host)
        return [["MULTI"], ["HGETALL", key], ["DEL", key], ["EXEC"]]
    }

    /// The orders in a taken hash (`HGETALL`'s field, value, field, value …): the state first,
    /// then the shed. A field or value that is not an order is returned apart, to be logged.
    static func orders(fromHash flat: [String]) -> (orders: [HostCommand], malformed: [String]) {
        var state: HostCommand?
        var shed: HostCommand?
        var malformed: [String] = []
        var index = 0
        while index + 1 < flat.count {
            let (field, value) = (flat[index], flat[index + 1])
            index += 2
            switch field {
            case "state" where value == "drain": state = .drain
            case "state" where value == "activate": state = .activate
            case "shed":
                guard let count = HostCommandWireFormat.shedCount(Substring(value)) else {
                    malformed.append("\(field)=\(value)")
                    continue
                }
                shed = .shed(count: count)
            default: malformed.append("\(field)=\(value)")
            }
        }
        if index < flat.count { malformed.append(flat[index]) }
        return ([state, shed].compactMap { $0 }, malformed)
    }
}
