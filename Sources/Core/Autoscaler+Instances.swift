import Logging

/// A launch given up by the loop while it was under way (timed out or crashed meanwhile).
struct LaunchAbandoned: Error, CustomStringConvertible {
    var description: String { "the launch was given up (timed out or the instance exited)" }
}

extension Autoscaler {
    /// Launches one instance, waits until it is healthy, adds it to the proxy and puts
    /// it in rotation, within `launchTimeout`. Runs beside the loop. On failure the instance is
    /// stopped and the error is recorded on the decision that launched it.
    func launch(_ id: InstanceID, decision: Int) async {
        let request = LaunchRequest(id: id, environment: environment)
        let timeout = tunables.launchTimeout
        let start = clock.now()
        let driver = self.driver
        do {
            _ = try await clock.withTimeout(timeout) { try await driver.launch(request) }
            let remaining = max(.zero, timeout - (clock.now() - start))
            let endpoint = try await clock.withTimeout(remaining) {
                try await driver.waitUntilRunning(id, timeout: remaining)
            }
            guard pool.tracked[id]?.launching == true else { throw LaunchAbandoned() }
            try await addToProxy(id, at: endpoint)
            try await trafficProxy.setState(id, .ready)
            do {
                try await registry.setDraining(host: id, false)
            } catch {
                logger.warning("telling the registry \(id) is in rotation failed", metadata: ["error": "\(error)"])
            }
            guard pool.launchSucceeded(id, at: endpoint, now: clock.now()) else { throw LaunchAbandoned() }
            logger.notice("launched \(id) at \(endpoint); in rotation", metadata: [
                "seconds": "\((clock.now() - start).secondsValue)",
            ])
        } catch {
            if Task.isCancelled {
                logger.info("launch of \(id) interrupted by shutdown")
                return
            }
            logger.error("launch of \(id) failed; stopping it", metadata: ["error": "\(error)"])
            decisionLog.update(decision) { $0.errors.append("launch \(id): \(error)") }
            lastError = "launch \(id): \(error)"
            pool.retire(id)
            do {
                try await trafficProxy.remove(id)
            } catch {
                logger.warning("removing \(id) from the proxy failed", metadata: ["error": "\(error)"])
            }
            await stop(id)
        }
        enqueue(.launchFinished(id))
    }

    /// A job that stops a retired instance beside the loop.
    func stopJob(_ id: InstanceID) -> BackgroundJob {
        pool.stopStarted(id)
        return { await self.stop(id) }
    }

    /// Stops an instance, gracefully then forcibly; errors are logged (the next wake stops it
    /// again while the driver still lists it).
    func stop(_ id: InstanceID) async {
        pool.stopStarted(id)
        do {
            try await driver.stop(id, grace: tunables.stopGrace)
            logger.info("stopped \(id)")
        } catch {
            logger.error("stopping \(id) failed; trying again at the next wake", metadata: ["error": "\(error)"])
        }
        pool.stopFinished(id)
    }

    /// Takes an instance that exited on its own out of the pool: out of the proxy and
    /// forgotten, so the planner can launch a replacement.
    func handleExit(_ exit: InstanceExit) async -> [BackgroundJob] {
        let id = exit.id
        guard !pool.retired.contains(id) else { return [] }
        let reason = "\(id) exited on its own"
            + (exit.exitCode.map { " with code \($0)" } ?? "") + (exit.reason.isEmpty ? "" : ": \(exit.reason)")
        logger.error("\(reason); taking it out of the pool\(configuration.dryRun ? " (dry run: would)" : "")")
        guard !configuration.dryRun else {
            record(Decision(sequence: 0, timestamp: wallClockMilliseconds, kind: .crash, reasons: [reason],
                            dryRun: true, actions: ["would remove \(id) from the proxy"]))
            return []
        }
        pool.retire(id)
        var errors: [String] = []
        do {
            try await trafficProxy.remove(id, cuttingSessions: true)
        } catch {
            logger.error("removing \(id) from the proxy failed", metadata: ["error": "\(error)"])
            errors.append("remove \(id) from the proxy: \(error)")
        }
        record(Decision(sequence: 0, timestamp: wallClockMilliseconds, kind: .crash, reasons: [reason],
                        dryRun: false, actions: ["remove \(id) from the proxy", "clean up \(id)"],
                        errors: errors))
        return [stopJob(id)]
    }
}
