#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Foundation

/// An error from sd-bus or from the peer (systemd), with the D-Bus error name when there is one.
public struct SystemdBusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The D-Bus error name (`org.freedesktop.systemd1.NoSuchUnit`), or empty for a local failure.
    public var name: String
    /// The peer's or sd-bus's words.
    public var message: String

    /// Creates an error.
    public init(name: String = "", message: String) {
        self.name = name
        self.message = message
    }

    /// A failed sd-bus function, named, with its negative errno.
    static func local(_ function: String, _ code: Int32) -> SystemdBusError {
        SystemdBusError(message: "\(function): \(String(cString: strerror(-code)))")
    }

    /// The connection is closed or broke.
    static let closed = SystemdBusError(message: "the D-Bus connection to systemd is closed")

    public var description: String { name.isEmpty ? message : "\(name): \(message)" }
}

/// A unit whose `ActiveState` changed, as systemd's `PropertiesChanged` signal on the
/// `org.freedesktop.systemd1.Unit` interface of the unit's object says.
struct SystemdUnitStateChange: Sendable, Equatable {
    /// The unit's name (decoded from its object path).
    var unit: String
    /// Its new `ActiveState` (`active`, `failed`, `inactive`, …).
    var activeState: String
}

/// One sd-bus connection to systemd, owned by a dedicated OS thread.
///
/// sd-bus is not thread-safe and its calls block, so nothing else touches the connection:
/// async callers hand closures to `perform`, which the bus thread runs one after the other,
/// and await their results. The thread's loop: `sd_bus_process` until it has nothing left
/// (this dispatches signals), run the queued work, then `poll()` on the bus's fd (with the
/// events and timeout sd-bus asks for) and on a pipe that `perform` writes to wake it.
///
/// On connecting, the thread subscribes to systemd's signals (`Manager.Subscribe`) and
/// matches `JobRemoved` (completing the `SystemdJob`s started through it) and
/// `PropertiesChanged` on unit objects (yielded on `unitStateChanges`).
final class SystemdBus: @unchecked Sendable {
    /// `ActiveState` changes of units, in the order systemd sent them. Ends when the connection does.
    let unitStateChanges: AsyncStream<SystemdUnitStateChange>
    /// How long one call may take.
    let callTimeout: Duration

    private let lock = NSLock()
    private var queue: [(OpaquePointer?) -> Void] = []
    private var closed = false
    private var pipeOpen = true
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stateContinuation: AsyncStream<SystemdUnitStateChange>.Continuation
    // Touched only on the bus thread:
    private var bus: OpaquePointer?
    private var slots: [OpaquePointer?] = []
    private var jobs: [String: SystemdJob] = [:]

    private init(callTimeout: Duration) throws {
        self.callTimeout = callTimeout
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SystemdBusError.local("pipe", -errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        (unitStateChanges, stateContinuation) = AsyncStream.makeStream(of: SystemdUnitStateChange.self)
    }

    /// Connects to systemd's bus on a new thread, subscribes to its signals, and returns once
    /// that is done.
    /// - Parameters:
    ///   - address: a D-Bus address (`unix:path=…`), or `nil` for the system bus.
    ///   - callTimeout: the deadline of every call.
    /// - Throws: `SystemdBusError` when the bus cannot be reached or refuses the subscription.
    static func connect(address: String?, callTimeout: Duration) async throws -> SystemdBus {
        let connection = try SystemdBus(callTimeout: callTimeout)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                do {
                    try connection.open(address: address)
                } catch {
                    connection.finish()
                    continuation.resume(throwing: error)
                    return
                }
                continuation.resume()
                connection.runLoop()
            }
            thread.name = "wsscale-sd-bus"
            thread.start()
        }
        return connection
    }

    /// Runs `body` on the bus thread with the connection and returns its result.
    /// - Throws: what `body` throws, or `SystemdBusError.closed`.
    func perform<T: Sendable>(_ body: @escaping (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue { bus in
                guard let bus else { return continuation.resume(throwing: SystemdBusError.closed) }
                continuation.resume(with: Result { try body(bus) })
            }
        }
    }

    /// Stops the thread and closes the connection; queued work fails with `closed`.
    func close() {
        lock.lock()
        closed = true
        lock.unlock()
        wake()
    }

    // MARK: - Calls (bus thread only)

    /// Calls a method of systemd (`org.freedesktop.systemd1`) and reads the reply.
    /// - Parameters:
    ///   - bus: the connection (from `perform`).
    ///   - path: the object.
    ///   - interface: the interface.
    ///   - member: the method.
    ///   - arguments: appends the arguments.
    ///   - reply: reads the reply.
    func call<T>(_ bus: OpaquePointer, path: String = "/org/freedesktop/systemd1",
                 interface: String = "org.freedesktop.systemd1.Manager", member: String,
                 arguments: (SystemdMessage) throws -> Void = { _ in },
                 reply: (SystemdMessage) throws -> T) throws -> T {
        var message: OpaquePointer?
        let created = sd_bus_message_new_method_call(bus, &message, "org.freedesktop.systemd1", path, interface, member)
        guard created >= 0, let message else { throw SystemdBusError.local("sd_bus_message_new_method_call(\(member))", created) }
        defer { sd_bus_message_unref(message) }
        try arguments(SystemdMessage(message))
        var error = sd_bus_error()
        defer { sd_bus_error_free(&error) }
        var answer: OpaquePointer?
        let micros = UInt64(max(1, callTimeout.components.seconds * 1_000_000 + callTimeout.components.attoseconds / 1_000_000_000_000))
        let result = sd_bus_call(bus, message, micros, &error, &answer)
        defer { if let answer { sd_bus_message_unref(answer) } }
        guard result >= 0, let answer else {
            if let name = error.name {
                throw SystemdBusError(name: String(cString: name), message: error.message.map { String(cString: $0) } ?? "")
            }
            throw SystemdBusError.local("\(interface).\(member)", result)
        }
        return try reply(SystemdMessage(answer))
    }

    /// Calls a Manager method that queues a job (`StartUnit`, `StopUnit`) and returns the
    /// job, which completes when systemd's `JobRemoved` signal for it arrives.
    func startJob(_ bus: OpaquePointer, member: String, unit: String, mode: String) throws -> SystemdJob {
        let path = try call(bus, member: member, arguments: { try $0.append(unit); try $0.append(mode) },
                            reply: { try $0.readObjectPath() })
        // Signals received during the call wait in sd-bus's queue until the next
        // sd_bus_process on this thread, so the job's JobRemoved cannot be missed here.
        let job = SystemdJob(path: path)
        jobs[path] = job
        return job
    }

    // MARK: - The thread

    private func open(address: String?) throws {
        var bus: OpaquePointer?
        if let address {
            var result = sd_bus_new(&bus)
            guard result >= 0, let created = bus else { throw SystemdBusError.local("sd_bus_new", result) }
            self.bus = created
            result = sd_bus_set_address(created, address)
            guard result >= 0 else { throw SystemdBusError.local("sd_bus_set_address(\(address))", result) }
            result = sd_bus_set_bus_client(created, 1)
            guard result >= 0 else { throw SystemdBusError.local("sd_bus_set_bus_client", result) }
            result = sd_bus_start(created)
            guard result >= 0 else { throw SystemdBusError.local("sd_bus_start(\(address))", result) }
        } else {
            let result = sd_bus_open_system(&bus)
            guard result >= 0, let opened = bus else { throw SystemdBusError.local("sd_bus_open_system", result) }
            self.bus = opened
        }
        guard let bus = self.bus else { throw SystemdBusError.closed }
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        let matches: [(String, sd_bus_message_handler_t)] = [
            ("type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',"
                + "interface='org.freedesktop.systemd1.Manager',member='JobRemoved'",
             { message, userdata, _ in
                 guard let message, let userdata else { return 0 }
                 Unmanaged<SystemdBus>.fromOpaque(userdata).takeUnretainedValue().jobRemoved(SystemdMessage(message))
                 return 0
             }),
            ("type='signal',sender='org.freedesktop.systemd1',path_namespace='/org/freedesktop/systemd1/unit',"
                + "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',arg0='org.freedesktop.systemd1.Unit'",
             { message, userdata, _ in
                 guard let message, let userdata else { return 0 }
                 Unmanaged<SystemdBus>.fromOpaque(userdata).takeUnretainedValue().propertiesChanged(SystemdMessage(message))
                 return 0
             }),
        ]
        for (rule, handler) in matches {
            var slot: OpaquePointer?
            let result = sd_bus_add_match(bus, &slot, rule, handler, userdata)
            guard result >= 0 else { throw SystemdBusError.local("sd_bus_add_match", result) }
            slots.append(slot)
        }
        try call(bus, member: "Subscribe", reply: { _ in })
    }

    private func runLoop() {
        guard let bus else { return finish() }
        while true {
            var processed: Int32
            repeat {
                processed = sd_bus_process(bus, nil)
            } while processed > 0
            lock.lock()
            let work = queue
            queue = []
            let stop = closed || processed < 0
            if processed < 0 { closed = true }
            lock.unlock()
            if stop {
                work.forEach { $0(nil) }
                return finish()
            }
            if !work.isEmpty {
                work.forEach { $0(bus) }
                continue // the calls may have queued signals
            }
            var fds = [pollfd(fd: sd_bus_get_fd(bus), events: Int16(truncatingIfNeeded: sd_bus_get_events(bus)), revents: 0),
                       pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            var deadline: UInt64 = 0
            var timeout: Int32 = -1
            if sd_bus_get_timeout(bus, &deadline) >= 0, deadline != UInt64.max {
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let nowMicros = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
                timeout = deadline <= nowMicros ? 0 : Int32(clamping: (deadline - nowMicros + 999) / 1000)
            }
            _ = poll(&fds, 2, timeout)
            if fds[1].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                while read(wakeRead, &buffer, buffer.count) > 0 {}
            }
        }
    }

    private func finish() {
        for slot in slots { sd_bus_slot_unref(slot) }
        slots = []
        if let bus { sd_bus_flush_close_unref(bus) }
        bus = nil
        for job in jobs.values { job.complete(nil) }
        jobs = [:]
        lock.lock()
        closed = true
        let work = queue
        queue = []
        lock.unlock()
        work.forEach { $0(nil) }
        stateContinuation.finish()
        lock.lock()
        pipeOpen = false
        lock.unlock()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    private func enqueue(_ work: @escaping (OpaquePointer?) -> Void) {
        lock.lock()
        if closed {
            lock.unlock()
            return work(nil)
        }
        queue.append(work)
        lock.unlock()
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        lock.lock()
        defer { lock.unlock() }
        if pipeOpen { _ = write(wakeWrite, &byte, 1) }
    }

    // MARK: - Signals (bus thread)

    /// `JobRemoved(u id, o job, s unit, s result)`.
    private func jobRemoved(_ message: SystemdMessage) {
        guard (try? message.readUInt32()) != nil, let path = try? message.readObjectPath(),
              (try? message.readString()) != nil, let result = try? message.readString() else { return }
        jobs.removeValue(forKey: path)?.complete(result)
    }

    /// `PropertiesChanged(s interface, a{sv} changed, as invalidated)` on a unit object.
    private func propertiesChanged(_ message: SystemdMessage) {
        guard let path = message.path, let unit = SystemdMessage.unitName(ofPath: path),
              (try? message.readString()) == "org.freedesktop.systemd1.Unit",
              let changed = try? message.readStringVariants(), let state = changed["ActiveState"] else { return }
        stateContinuation.yield(SystemdUnitStateChange(unit: unit, activeState: state))
    }
}

/// A systemd job: completes with its result (`done`, `failed`, `timeout`, `canceled`,
/// `dependency`, `skipped`) when `JobRemoved` names it, or `nil` if the connection ends first.
final class SystemdJob: @unchecked Sendable {
    /// The job's object path.
    let path: String
    private let lock = NSLock()
    private var outcome: String??
    private var waiters: [UUID: CheckedContinuation<String?, Never>] = [:]

    init(path: String) {
        self.path = path
    }

    /// Records the result and wakes the waiters.
    func complete(_ result: String?) {
        lock.lock()
        guard outcome == nil else { return lock.unlock() }
        outcome = .some(result)
        let waiting = waiters
        waiters = [:]
        lock.unlock()
        waiting.values.forEach { $0.resume(returning: result) }
    }

    /// The job's result, or `nil` when it is not done within `timeout` (or the connection ended).
    func result(within timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { await self.result() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func result() async -> String? {
        let key = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                lock.lock()
                if let outcome {
                    lock.unlock()
                    return continuation.resume(returning: outcome)
                }
                if Task.isCancelled {
                    lock.unlock()
                    return continuation.resume(returning: nil)
                }
                waiters[key] = continuation
                lock.unlock()
            }
        } onCancel: {
            lock.lock()
            let continuation = waiters.removeValue(forKey: key)
            lock.unlock()
            continuation?.resume(returning: nil)
        }
    }
}
