import CHiredis
import NIOCore

/// Decodes RESP bytes into `RedisValue`s with hiredis' reply reader.
///
/// Not thread-safe: one reader belongs to one channel handler and lives on its event loop.
final class RedisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    /// Creates a reader with hiredis' default reply objects.
    init() {
        guard let reader = redisReaderCreate() else { fatalError("hiredis could not allocate a reply reader") }
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Hands bytes to the reader; they are copied into its buffer.
    func feed(_ buffer: ByteBuffer) throws {
        let status = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return REDIS_OK }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != REDIS_OK { throw RedisError.protocolError(errorText) }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    func nextReply() throws -> RedisValue? {
        var reply: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &reply) == REDIS_OK else {
            throw RedisError.protocolError(errorText)
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return Self.value(of: reply.assumingMemoryBound(to: redisReply.self))
    }

    private var errorText: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let length = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<length], as: UTF8.self)
        }
    }

    /// Converts a hiredis reply (and its children) into a `RedisValue`.
    private static func value(of reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let object = reply.pointee
        func text() -> String {
            guard let bytes = object.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: object.len), as: UTF8.self)
        }
        switch object.type {
        case REDIS_REPLY_STRING: return .bulkString(text())
        case REDIS_REPLY_STATUS: return .simpleString(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int64(object.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = object.element else { return .array([]) }
            return .array((0..<object.elements).map { index in
                elements[index].map(value(of:)) ?? .null
            })
        default: return .null
        }
    }
}
