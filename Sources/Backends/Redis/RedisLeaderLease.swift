import Logging
import NIOCore
import WSScaleCore

/// The pool's leadership lease in Redis (`LeaderLease`), beside the registry under the same
/// prefix `P`:
///
/// | key | type | contents |
/// |---|---|---|
/// | `P:leader` | string | `holder TAB token TAB since`, with a `PEXPIRE` of one lease |
/// | `P:leader:token` | string | the last fencing token given (`INCR`), never reset |
///
/// Each operation is one Lua script, so a claim, a renewal and a release are atomic: two
/// balancers that claim at the same moment get one holder, and a new holder's token is larger
/// than every token before it (also after the leader key lapsed).
public final class RedisLeaderLease: LeaderLease {
    private let schema: RedisKeySchema
    private let slot: RedisConnectionSlot

    /// Takes the lease when free (a new token), extends it for its holder, else leaves it;
    /// returns the value after. KEYS: leader, token counter; ARGV: holder, lease ms, now ms.
    static let claimScript = """
        local current = redis.call('GET', KEYS[1])
        if current then
          local holder = string.match(current, '^([^\\t]*)\\t')
          if holder == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
          end
          return current
        end
        local token = redis.call('INCR', KEYS[2])
        local value = ARGV[1] .. '\\t' .. token .. '\\t' .. ARGV[3]
        redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
        return value
        """

    /// Deletes the leader key if it still holds this value. KEYS: leader; ARGV: value.
    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """

    /// The lease of the pool under `keyPrefix` in the Redis at `url`.
    public init(url: RedisURL, keyPrefix: String, eventLoopGroup: EventLoopGroup, logger: Logger) {
        schema = RedisKeySchema(prefix: keyPrefix)
        slot = RedisConnectionSlot(url: url, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    public func claim(holder: String, duration: Duration, nowMilliseconds: Int64) async throws -> LeaderRecord {
        let redis = try await slot.connection()
        let reply = try await redis.send(["EVAL", Self.claimScript, "2", schema.leader, schema.leaderToken,
                                          holder, String(max(1, duration.wholeMilliseconds)), String(nowMilliseconds)])
        guard let text = reply.string, let record = Self.record(text) else {
            throw RedisError.unexpectedReply("the leader claim answered \(reply), not a leader record")
        }
        return record
    }

    public func current() async throws -> LeaderRecord? {
        let redis = try await slot.connection()
        let reply = try await redis.send(["GET", schema.leader])
        guard let text = reply.string else { return nil }
        guard let record = Self.record(text) else {
            throw RedisError.unexpectedReply("\(schema.leader) holds \(text.prefix(200)), not a leader record")
        }
        return record
    }

    public func release(_ record: LeaderRecord) async throws {
        let redis = try await slot.connection()
        try await redis.send(["EVAL", Self.releaseScript, "1", schema.leader, Self.value(record)])
    }

    /// Closes the connection.
    public func close() async {
        await slot.close()
    }

    /// The key's value for a record.
    static func value(_ record: LeaderRecord) -> String {
        "\(record.holder)\t\(record.token)\t\(record.since)"
    }

    /// The record a value holds, `nil` when it is not one.
    static func record(_ value: String) -> LeaderRecord? {
        let parts = value.split(separator: "\t", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, let token = Int64(parts[1]), let since = Int64(parts[2]) else { return nil }
        return LeaderRecord(holder: String(parts[0]), token: token, since: since)
    }
}
