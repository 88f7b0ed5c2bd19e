import Logging
import NIOCore

/// A batch of commands written at once, answered by `replyCount` replies in order.
struct RedisRequest {
    /// The encoded commands.
    var bytes: ByteBuffer
    /// How many replies complete the batch.
    var replyCount: Int
    /// Completed with the replies, or failed when the connection goes away first.
    var promise: EventLoopPromise<[RedisValue]>
}

/// Writes pipelined requests and matches the replies to them in FIFO order.
///
/// Decoding is hiredis' reader. In subscriber mode (`onMessage` set), pushed `message` /
/// `pmessage` arrays go to `onMessage` instead of the queue of waiting requests.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let replyCount: Int
        let promise: EventLoopPromise<[RedisValue]>
    }

    private let reader = RedisReplyReader()
    private var waiting = CircularBuffer<Waiting>()
    /// Replies collected so far for the first waiting request.
    private var headReplies: [RedisValue] = []
    private var closed = false
    private let onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    private let logger: Logger

    /// Creates a handler; pass `onMessage` for a subscriber connection.
    init(logger: Logger, onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil) {
        self.logger = logger
        self.onMessage = onMessage
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise.fail(RedisError.connectionClosed)
            promise?.fail(RedisError.connectionClosed)
            return
        }
        guard request.replyCount > 0 else {
            request.promise.succeed([])
            promise?.succeed(())
            return
        }
        waiting.append(Waiting(replyCount: request.replyCount, promise: request.promise))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.feed(unwrapInboundIn(data))
            while let value = try reader.nextReply() {
                deliver(value)
            }
        } catch {
            logger.error("closing the Redis connection", metadata: ["error": "\(error)"])
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("Redis connection error", metadata: ["error": "\(error)"])
        failAll(error)
        context.close(promise: nil)
    }

    private func deliver(_ value: RedisValue) {
        if let onMessage, let message = RedisPubSubMessage(push: value) {
            onMessage(message)
            return
        }
        guard !waiting.isEmpty else {
            logger.warning("Redis reply nobody waited for", metadata: ["reply": "\(value)"])
            return
        }
        headReplies.append(value)
        if headReplies.count == waiting[waiting.startIndex].replyCount {
            let done = waiting.removeFirst()
            let replies = headReplies
            headReplies = []
            done.promise.succeed(replies)
        }
    }

    private func failAll(_ error: Error) {
        closed = true
        headReplies = []
        while let entry = waiting.popFirst() {
            entry.promise.fail(error)
        }
    }
}
