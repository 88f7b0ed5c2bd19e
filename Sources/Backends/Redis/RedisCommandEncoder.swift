import CHiredis
import NIOCore

/// Encodes commands as RESP with hiredis' `redisFormatCommandArgv`.
enum RedisCommandEncoder {
    /// Appends each command (its words, the name first) to `buffer`.
    static func encode(_ commands: [[String]], into buffer: inout ByteBuffer) {
        for command in commands { encode(command, into: &buffer) }
    }

    /// Appends one command to `buffer`.
    static func encode(_ words: [String], into buffer: inout ByteBuffer) {
        precondition(!words.isEmpty, "a Redis command needs at least its name")
        // All words in one byte array; argv points into it, lengths make embedded NULs safe.
        var storage: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(words.count)
        lengths.reserveCapacity(words.count)
        for word in words {
            offsets.append(storage.count)
            storage.append(contentsOf: word.utf8)
            lengths.append(storage.count - offsets[offsets.count - 1])
        }
        storage.append(0)
        storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(words.count), &argv, lengths)
            guard length >= 0, let target else { fatalError("hiredis could not format a command (out of memory)") }
            defer { redisFreeCommand(target) }
            buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
        }
    }
}
