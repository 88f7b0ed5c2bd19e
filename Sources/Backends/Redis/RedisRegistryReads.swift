import Foundation
import WSScaleCore

/// The reads the balancer and the servers share: live hosts, the topology and the full
/// session list, as `RedisKeySchema` describes them.
struct RedisRegistryReads: Sendable {
    let schema: RedisKeySchema

    /// Hosts whose lease has not expired at `now` (ms since 1970).
    func liveHosts(on redis: RedisConnection, now: Int64) async throws -> [InstanceID] {
        let reply = try await redis.send(["ZRANGEBYSCORE", schema.hosts, String(now), "+inf"])
        guard let members = reply.array else { throw RedisError.unexpectedReply("ZRANGEBYSCORE: \(reply)") }
        return members.compactMap(\.string)
    }

    /// Live hosts with their session counts, draining flags and what each says of itself: one
    /// `ZRANGEBYSCORE` and one pipeline of `HLEN` and two `HGET` per host.
    func topology(on redis: RedisConnection, now: Int64) async throws -> [HostSessions] {
        let hosts = try await liveHosts(on: redis, now: now)
        let replies = try await redis.pipeline(hosts.flatMap { host in
            [["HLEN", schema.sessions(of: host)], ["HGET", schema.meta(of: host), "draining"],
             ["HGET", schema.meta(of: host), "hostDraining"]]
        })
        // A refused read (NOPERM) must not pass for "no sessions, not draining".
        if let failed = replies.first(where: \.isError) { throw RedisError.errorReply("reading the topology: \(failed)") }
        return hosts.enumerated().map { index, host in
            HostSessions(host: host,
                         sessions: Int(replies[3 * index].integer ?? 0),
                         draining: replies[3 * index + 1].string == "1",
                         reportsDraining: replies[3 * index + 2].string.map { $0 == "1" })
        }
    }

    /// Every session of every live host, read with `HSCAN` per host.
    func allSessions(on redis: RedisConnection, now: Int64) async throws -> [SessionRecord] {
        var records: [SessionRecord] = []
        for host in try await liveHosts(on: redis, now: now) {
            records += try await sessions(of: host, on: redis)
        }
        return records
    }

    /// One host's sessions, read with `HSCAN` (duplicates that `HSCAN` may return removed).
    func sessions(of host: InstanceID, on redis: RedisConnection) async throws -> [SessionRecord] {
        var byId: [String: SessionRecord] = [:]
        var cursor = "0"
        repeat {
            let reply = try await redis.send(["HSCAN", schema.sessions(of: host), cursor, "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string,
                  let pairs = parts[1].array else {
                throw RedisError.unexpectedReply("HSCAN: \(reply)")
            }
            cursor = next
            for index in stride(from: 1, to: pairs.count, by: 2) {
                if let json = pairs[index].string, let record = SessionRecordJSON.decode(json) {
                    byId[record.sessionId] = record
                }
            }
        } while cursor != "0"
        return Array(byId.values)
    }
}

/// The JSON form of a `SessionRecord` in the sessions hash.
enum SessionRecordJSON {
    /// Each record as JSON text (one encoder for the batch).
    static func encode<Records: Sequence<SessionRecord>>(_ records: Records) -> [String] {
        let encoder = JSONEncoder()
        // Encoding a struct of strings and integers cannot fail.
        return records.map { String(decoding: try! encoder.encode($0), as: UTF8.self) }
    }

    /// The record in `json`; `nil` when it is not one.
    static func decode(_ json: String) -> SessionRecord? {
        try? JSONDecoder().decode(SessionRecord.self, from: Data(json.utf8))
    }
}

/// Now, in milliseconds since 1970 (the unit of leases and session times).
func millisecondsSince1970() -> Int64 {
    WallClock.system.milliseconds()
}
