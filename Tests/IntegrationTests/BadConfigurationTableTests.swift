import Foundation
import Testing
import WSScaleBackends
import WSScaleBalancer
import WSScaleClient
import WSScaleCore
import WSScaleDashboard
import WSScaleLocalStack
import WSScaleServer
import WSScaleTestSupport

/// Every variable the product reads, each with a bad value, is refused: exit status 2 and a
/// message naming it. Most rows are checked by reading, as each subcommand reads (the same
/// readers, in the same combination); the rows marked `binary` run the real `wsscale`, at
/// least one per subcommand, so the exit status itself is checked too.
@Suite("a bad value of any variable: exit status 2 naming it", .serialized)
struct BadConfigurationTableTests {
    enum Command: String, Sendable, CaseIterable {
        case server, balancer, up, client, dashboard
        case engineProxy = "engine-proxy"
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var command: Command
        var variable: String
        var value: String
        /// More variables the row needs (the backend whose settings are read).
        var context: [String: String] = [:]
        /// Run through the real binary as well as by reading.
        var binary = false

        var testDescription: String { "\(command.rawValue): \(variable)=\(value.debugDescription)" }
    }

    static let scalingKnobs: [(String, String)] = [
        ("CONNECTION_LIMIT_PER_HOST", "0"), ("MAX_UTILIZATION_PERCENT", "101"), ("MIN_UTILIZATION_PERCENT", "-1"),
        ("OVERUTILIZED_TOLERANCE_PERCENT", "150"), ("UNDERUTILIZED_TOLERANCE_PERCENT", "x"),
        ("MAX_CONNECTIONS_PER_HOST", "1000001"), ("MIN_INSTANCES", "0"), ("MAX_INSTANCES", "10001"),
        ("DRAIN_TIMEOUT_SECONDS", "soon"), ("SCALE_IN_STABILIZATION_SECONDS", "-1"), ("REBALANCE_COOLDOWN_SECONDS", "3"),
        ("MAX_SHED_PER_REBALANCE", "100"), ("REBALANCE_MAX_MOVES_PER_SECOND", "-1"), ("DRY_RUN", "perhaps"),
    ]

    static let rows: [Row] = {
        var rows: [Row] = []
        // Every scaling knob, as the balancer and `up` read them.
        for (variable, value) in scalingKnobs {
            rows.append(Row(command: .balancer, variable: variable, value: value, binary: variable == "MIN_INSTANCES"))
            rows.append(Row(command: .up, variable: variable, value: value))
        }
        rows += [
            Row(command: .server, variable: "SERVER_ID", value: "ws 1", binary: true),
            Row(command: .server, variable: "SERVER_HOST", value: "0.0.0.0;x"),
            Row(command: .server, variable: "SERVER_PORT", value: "65536"),
            Row(command: .server, variable: "MAX_CONNECTIONS_PER_HOST", value: "0"),
            Row(command: .server, variable: "SHUTDOWN_GRACE_SECONDS", value: "0"),
            Row(command: .server, variable: "REDIS_URL", value: "http://127.0.0.1:6379"),
            Row(command: .server, variable: "REDIS_KEY_PREFIX", value: "my pool", binary: true),
            Row(command: .server, variable: "LEASE_SECONDS", value: "0"),
            Row(command: .server, variable: "MAX_MESSAGE_BYTES", value: "124"),
            Row(command: .server, variable: "PING_INTERVAL_SECONDS", value: "0"),
            Row(command: .server, variable: "IDLE_TIMEOUT_SECONDS", value: "10", context: ["PING_INTERVAL_SECONDS": "10"]),
            Row(command: .server, variable: "HTTP_REQUEST_TIMEOUT_SECONDS", value: "0"),
            Row(command: .server, variable: "MAX_HTTP_CONNECTIONS", value: "0"),

            Row(command: .balancer, variable: "WSSCALE_BACKEND", value: "kubernetes"),
            Row(command: .balancer, variable: "BALANCER_HOST", value: "0.0.0.0 x"),
            Row(command: .balancer, variable: "BALANCER_PORT", value: "0"),
            Row(command: .balancer, variable: "REDIS_URL", value: "http://127.0.0.1:6379"),
            Row(command: .balancer, variable: "SERVER_REDIS_URL", value: "http://127.0.0.1:6379"),
            Row(command: .balancer, variable: "REDIS_KEY_PREFIX", value: "a;b"),
            Row(command: .balancer, variable: "LEASE_SECONDS", value: "0.1"),
            Row(command: .balancer, variable: "HAPROXY_RUNTIME_API", value: "tcp://127.0.0.1"),
            Row(command: .balancer, variable: "HAPROXY_BACKEND", value: "a#b", binary: true),
            Row(command: .balancer, variable: "WSSCALE_STATE_DIR", value: "/tmp/a;b"),
            Row(command: .balancer, variable: "WSSCALE_POOL", value: ".."),
            Row(command: .balancer, variable: "LAUNCH_TIMEOUT_SECONDS", value: "0.1"),
            Row(command: .balancer, variable: "STOP_GRACE_SECONDS", value: "3601"),
            Row(command: .balancer, variable: "BALANCER_STALL_SECONDS", value: "1"),
            Row(command: .balancer, variable: "BALANCER_ID", value: "b/1"),
            Row(command: .balancer, variable: "LEADER_LEASE_SECONDS", value: "0"),
            Row(command: .balancer, variable: "HTTP_REQUEST_TIMEOUT_SECONDS", value: "x"),
            Row(command: .balancer, variable: "MAX_HTTP_CONNECTIONS", value: "1000001"),
            Row(command: .up, variable: "HTTP_REQUEST_TIMEOUT_SECONDS", value: "-1"),
            Row(command: .up, variable: "MAX_HTTP_CONNECTIONS", value: "many"),

            Row(command: .up, variable: "LB_HOST", value: "0.0.0.0;x", binary: true),
            Row(command: .up, variable: "LB_PORT", value: "0"),
            Row(command: .up, variable: "LB_STATS_PORT", value: "70000"),
            Row(command: .up, variable: "LB_MAX_CONNECTIONS_PER_SOURCE", value: "0"),
            Row(command: .up, variable: "LB_MAX_NEW_CONNECTIONS_PER_SOURCE", value: "ten"),
            Row(command: .up, variable: "UP_REDIS_PORT", value: "x"),
            Row(command: .up, variable: "BALANCER_PORT", value: "0"),
            Row(command: .up, variable: "WSSCALE_STATE_DIR", value: "/tmp/a b"),
            Row(command: .up, variable: "CLIENT_PORT", value: "x"),
            Row(command: .up, variable: "DASHBOARD_PORT", value: "0"),

            Row(command: .client, variable: "CLIENT_HOST", value: "0.0.0.0;x"),
            Row(command: .client, variable: "CLIENT_PORT", value: "65536", binary: true),
            Row(command: .client, variable: "CLIENT_TARGET_URL", value: "http://127.0.0.1:8000"),
            Row(command: .client, variable: "CLIENT_BACKOFF_BASE_MS", value: "0"),
            Row(command: .client, variable: "CLIENT_BACKOFF_CAP_MS", value: "x"),
            Row(command: .client, variable: "CLIENT_BACKOFF_MAX_ATTEMPTS", value: "-1"),
            Row(command: .client, variable: "CLIENT_CONNECT_CONCURRENCY", value: "0"),
            Row(command: .client, variable: "CLIENT_CONNECT_TIMEOUT_MS", value: "0"),
            Row(command: .client, variable: "MAX_HTTP_CONNECTIONS", value: "0"),
            Row(command: .client, variable: "CLIENT_MAX_USERS", value: "0"),

            Row(command: .dashboard, variable: "DASHBOARD_HOST", value: "a b"),
            Row(command: .dashboard, variable: "DASHBOARD_PORT", value: "0", binary: true),
            Row(command: .dashboard, variable: "DASHBOARD_BALANCER_URL", value: "ftp://x"),
            Row(command: .dashboard, variable: "DASHBOARD_CLIENT_URL", value: "ftp://x"),
            Row(command: .dashboard, variable: "HTTP_REQUEST_TIMEOUT_SECONDS", value: "3601"),
        ]
        let docker = ["WSSCALE_BACKEND": "docker"], podman = ["WSSCALE_BACKEND": "podman"], systemd = ["WSSCALE_BACKEND": "systemd"]
        rows += [
            Row(command: .balancer, variable: "DOCKER_HOST", value: "ftp://x", context: docker),
            Row(command: .balancer, variable: "DOCKER_API_VERSION", value: "1.41;x", context: docker),
            Row(command: .balancer, variable: "WSSCALE_DOCKER_IMAGE", value: "wsscale local", context: docker, binary: true),
            Row(command: .balancer, variable: "WSSCALE_DOCKER_CONTAINER_PORT", value: "0", context: docker),
            Row(command: .balancer, variable: "WSSCALE_DOCKER_NETWORK", value: "net work", context: docker),
            Row(command: .balancer, variable: "WSSCALE_DOCKER_PUBLISH_ADDRESS", value: "localhost", context: docker),
            Row(command: .balancer, variable: "WSSCALE_DOCKER_STOP_GRACE", value: "3601", context: docker),
            Row(command: .balancer, variable: "PODMAN_HOST", value: "ftp://x", context: podman),
            Row(command: .balancer, variable: "PODMAN_API_VERSION", value: "four", context: podman),
            Row(command: .balancer, variable: "WSSCALE_PODMAN_IMAGE", value: "a\"b", context: podman, binary: true),
            Row(command: .balancer, variable: "WSSCALE_PODMAN_CONTAINER_PORT", value: "65536", context: podman),
            Row(command: .balancer, variable: "WSSCALE_PODMAN_NETWORK", value: "a;b", context: podman),
            Row(command: .balancer, variable: "WSSCALE_PODMAN_PUBLISH_ADDRESS", value: "nowhere", context: podman),
            Row(command: .balancer, variable: "WSSCALE_PODMAN_STOP_GRACE", value: "-1", context: podman),
            Row(command: .balancer, variable: "WSSCALE_SYSTEMD_UNIT", value: "wsscale-server", context: systemd, binary: true),
            Row(command: .balancer, variable: "WSSCALE_SYSTEMD_ENV_DIR", value: "relative", context: systemd),
            Row(command: .balancer, variable: "WSSCALE_SYSTEMD_BUS", value: "nowhere", context: systemd),
            Row(command: .balancer, variable: "WSSCALE_SYSTEMD_SERVER_HOST", value: "a b", context: systemd),

            Row(command: .engineProxy, variable: "WSSCALE_ENGINE_PROXY_ENGINE", value: "kubernetes", binary: true),
            Row(command: .engineProxy, variable: "WSSCALE_ENGINE_PROXY_HOST", value: "0.0.0.0;x"),
            Row(command: .engineProxy, variable: "WSSCALE_ENGINE_PROXY_PORT", value: "0"),
            Row(command: .engineProxy, variable: "WSSCALE_ENGINE_PROXY_MAX_CONNECTIONS", value: "4097"),
            Row(command: .engineProxy, variable: "DOCKER_HOST", value: "ftp://x"),
            Row(command: .engineProxy, variable: "WSSCALE_DOCKER_IMAGE", value: "wsscale local"),
            Row(command: .engineProxy, variable: "PODMAN_HOST", value: "ftp://x", context: ["WSSCALE_ENGINE_PROXY_ENGINE": "podman"]),
            Row(command: .engineProxy, variable: "WSSCALE_PODMAN_IMAGE", value: "a\"b", context: ["WSSCALE_ENGINE_PROXY_ENGINE": "podman"], binary: true),
            Row(command: .engineProxy, variable: "WSSCALE_PODMAN_NETWORK", value: "a;b", context: ["WSSCALE_ENGINE_PROXY_ENGINE": "podman"]),
            Row(command: .engineProxy, variable: "WSSCALE_COMPOSE_PROJECT", value: "Upper", context: ["WSSCALE_ENGINE_PROXY_ENGINE": "podman"]),
            Row(command: .balancer, variable: "WSSCALE_COMPOSE_PROJECT", value: "-leading-dash", context: docker),
        ]
        // Secrets: the admin token and the Redis URLs, given directly or through *_FILE.
        let token = ["WSSCALE_ADMIN_TOKEN": "a-good-admin-token-0123456789"]
        rows += [
            Row(command: .server, variable: "WSSCALE_ADMIN_TOKEN", value: "too-short", binary: true),
            Row(command: .balancer, variable: "WSSCALE_ADMIN_TOKEN", value: "0123456789abcdef\u{200B}0123456789"),
            Row(command: .client, variable: "WSSCALE_ADMIN_TOKEN", value: "0123456789abcdef\u{7F}0123456789"),
            Row(command: .dashboard, variable: "WSSCALE_ADMIN_TOKEN", value: "short"),
            Row(command: .up, variable: "WSSCALE_ADMIN_TOKEN", value: "0123456789abcdef\u{00A0}0123456789"),
            Row(command: .balancer, variable: "WSSCALE_ADMIN_TOKEN_FILE", value: Self.missingFile, binary: true),
            Row(command: .server, variable: "WSSCALE_ADMIN_TOKEN_FILE", value: Self.worldReadableFile),
            Row(command: .client, variable: "WSSCALE_ADMIN_TOKEN_FILE", value: Self.missingFile, context: token),
            Row(command: .dashboard, variable: "WSSCALE_ADMIN_TOKEN_FILE", value: Self.worldReadableFile, context: token),
            Row(command: .server, variable: "REDIS_URL_FILE", value: Self.missingFile),
            Row(command: .balancer, variable: "REDIS_URL_FILE", value: Self.worldReadableFile),
            Row(command: .balancer, variable: "REDIS_URL_FILE", value: Self.missingFile,
                context: ["REDIS_URL": "redis://127.0.0.1:6379/0"]),
            Row(command: .balancer, variable: "SERVER_REDIS_URL_FILE", value: Self.missingFile),
            Row(command: .up, variable: "SERVER_REDIS_URL_FILE", value: Self.worldReadableFile),
            Row(command: .server, variable: "REDIS_URL", value: "rediss://127.0.0.1:6380/0", binary: true),
            Row(command: .balancer, variable: "REDIS_URL", value: "rediss://user:secret@127.0.0.1:6380/0"),
            Row(command: .balancer, variable: "SERVER_REDIS_URL", value: "rediss://127.0.0.1:6380"),
        ]
        // LOG_LEVEL, read by every subcommand with its other settings.
        rows += Command.allCases.map { command in
            Row(command: command, variable: "LOG_LEVEL", value: "verbose", binary: command == .server || command == .balancer)
        }
        return rows
    }()

    /// A secret file that does not exist.
    static let missingFile = "/nonexistent/wsscale-secret"
    /// A file every user may read, which no `*_FILE` variable accepts.
    static let worldReadableFile = "/etc/passwd"

    /// What `command` reports for `environment`, read as the subcommand reads it.
    static func issues(_ command: Command, _ environment: [String: String]) -> [ConfigurationIssue] {
        var reader = EnvironmentReader(environment: environment)
        switch command {
        case .server:
            do { _ = try ServerConfiguration.read(environment: environment) } catch let error as ConfigurationError {
                return error.issues
            } catch { return [ConfigurationIssue(variable: "?", message: "\(error)")] }
            return []
        case .client:
            do { _ = try ClientConfiguration.read(environment: environment) } catch let error as ConfigurationError {
                return error.issues
            } catch { return [ConfigurationIssue(variable: "?", message: "\(error)")] }
            return []
        case .dashboard:
            _ = DashboardSettings.read(from: &reader)
            _ = LogLevelSetting.read(from: &reader)
        case .balancer:
            _ = ScalingConfiguration.read(from: &reader)
            let settings = BalancerSettings.read(from: &reader)
            _ = DriverSettings.read(for: settings.backend, from: &reader)
            _ = LogLevelSetting.read(from: &reader)
        case .up:
            _ = ScalingConfiguration.read(from: &reader)
            _ = BalancerSettings.read(from: &reader)
            _ = LocalStackSettings.read(from: &reader)
            // As `up` does: one reader, so a variable two parts read is named once.
            do { _ = try ClientConfiguration.read(environment: environment) } catch let error as ConfigurationError {
                error.issues.forEach { reader.report($0.variable, $0.message) }
            } catch { reader.report("?", "\(error)") }
            _ = DashboardSettings.read(from: &reader)
            _ = LogLevelSetting.read(from: &reader)
        case .engineProxy:
            _ = EngineProxySettings.read(from: &reader)
            _ = LogLevelSetting.read(from: &reader)
        }
        return reader.issues
    }

    @Test(arguments: rows)
    func aBadValueIsRefusedNamingItsVariable(row: Row) async {
        let environment = row.context.merging([row.variable: row.value]) { _, new in new }
        let issues = Self.issues(row.command, environment)
        #expect(issues.map(\.variable) == [row.variable], "\(issues)")
        #expect(Self.issues(row.command, row.context).isEmpty, "the row's context alone is valid")

        guard row.binary else { return }
        let result = await Self.run(row.command, environment: environment)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains(row.variable), "\(result.output)")
    }

    /// Runs the real `wsscale <command>` (`balancer --check-config` for the balancer) in a folder
    /// of its own holding `dotEnv` as `.env` (none when nil), with a deadline: a value let
    /// through would start the command.
    static func run(_ command: Command, environment: [String: String], dotEnv: String? = nil) async -> (status: Int32, output: String) {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wsscale-badconf-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        if let dotEnv { try? dotEnv.write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8) }
        let arguments = command == .balancer ? ["balancer", "--check-config"] : [command.rawValue]
        return await TestCommand.runDetached("/usr/bin/timeout", ["30", UpStack.binary] + arguments,
                                             environment: environment, directory: folder)
    }

    @Test("LOG_LEVEL is read with the other settings: from ./.env, shown by --check-config, a bad one refused naming it")
    func logLevelFromDotEnv() async {
        let bad = await Self.run(.balancer, environment: [:], dotEnv: "LOG_LEVEL=loud\n")
        #expect(bad.status == 2, "\(bad.output)")
        #expect(bad.output.contains("LOG_LEVEL"), "\(bad.output)")
        let good = await Self.run(.balancer, environment: [:], dotEnv: "LOG_LEVEL=Debug\n")
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("LOG_LEVEL=debug"), "\(good.output)")
    }

    @Test func everyScalingKnobHasARowAndEverySubcommandRunsTheBinary() {
        let covered = Set(Self.rows.map(\.variable))
        let read = Set(ScalingConfiguration.Variable.allCases.map(\.rawValue))
        #expect(read.subtracting(covered).isEmpty)
        // One row through the real binary per subcommand.
        #expect(Set(Self.rows.filter(\.binary).map(\.command)) == Set(Command.allCases))
    }
}
