import Testing
import WSScaleBalancer
import WSScaleCore

/// The Docker, Podman and systemd backends' own settings are read with the balancer's others
/// (`DriverSettings`): a bad one is reported under its variable (so `wsscale balancer` exits 2
/// naming it), and `--check-config` lists the effective ones.
@Suite struct DriverSettingsTests {
    static let refused: [(backend: BackendKind, variable: String, value: String)] = [
        (.docker, "DOCKER_HOST", "ftp://x"),
        (.docker, "DOCKER_API_VERSION", "1.41;x"),
        (.docker, "WSSCALE_DOCKER_IMAGE", "wsscale local"),
        (.docker, "WSSCALE_DOCKER_CONTAINER_PORT", "0"),
        (.docker, "WSSCALE_DOCKER_NETWORK", "net work"),
        (.docker, "WSSCALE_DOCKER_PUBLISH_ADDRESS", "localhost"),
        (.docker, "WSSCALE_DOCKER_STOP_GRACE", "3601"),
        (.podman, "PODMAN_HOST", "ftp://x"),
        (.podman, "PODMAN_API_VERSION", "four"),
        (.podman, "WSSCALE_PODMAN_IMAGE", "a\"b"),
        (.podman, "WSSCALE_PODMAN_STOP_GRACE", "-1"),
        (.systemd, "WSSCALE_SYSTEMD_UNIT", "wsscale-server"),
        (.systemd, "WSSCALE_SYSTEMD_ENV_DIR", "relative"),
        (.systemd, "WSSCALE_SYSTEMD_BUS", "nowhere"),
        (.systemd, "WSSCALE_SYSTEMD_SERVER_HOST", "a b"),
    ]

    @Test(arguments: refused)
    func aBadBackendSettingIsReportedUnderItsVariable(backend: BackendKind, variable: String, value: String) {
        var reader = EnvironmentReader(environment: [variable: value])
        _ = DriverSettings.read(for: backend, from: &reader)
        #expect(reader.issues.map(\.variable) == [variable], "\(reader.issues)")
    }

    @Test(arguments: [BackendKind.docker, .podman, .systemd])
    func aBadPoolIsReportedOnceThoughTwoReadersCheckIt(backend: BackendKind) {
        var reader = EnvironmentReader(environment: ["WSSCALE_POOL": "a b"])
        _ = BalancerSettings.read(from: &reader)
        _ = DriverSettings.read(for: backend, from: &reader)
        #expect(reader.issues.map(\.variable) == ["WSSCALE_POOL"], "\(reader.issues)")
    }

    @Test func checkConfigListsTheBackendsSettings() {
        var reader = EnvironmentReader(environment: ["WSSCALE_DOCKER_IMAGE": "wsscale:test"])
        let docker = Dictionary(uniqueKeysWithValues: DriverSettings.read(for: .docker, from: &reader).describe().map { ($0.name, $0.value) })
        #expect(reader.issues.isEmpty, "\(reader.issues)")
        #expect(docker["WSSCALE_DOCKER_IMAGE"] == "wsscale:test")
        #expect(docker["DOCKER_API_VERSION"] == "1.41")
        #expect(docker["WSSCALE_DOCKER_PUBLISH_ADDRESS"] == "127.0.0.1")
        #expect(docker["WSSCALE_DOCKER_STOP_GRACE"] == "10")
        #expect(Set(docker.keys) == ["DOCKER_HOST", "DOCKER_API_VERSION", "WSSCALE_DOCKER_IMAGE", "WSSCALE_DOCKER_CONTAINER_PORT",
                                     "WSSCALE_DOCKER_NETWORK", "WSSCALE_DOCKER_PUBLISH_ADDRESS", "WSSCALE_DOCKER_STOP_GRACE"])
        let systemd = DriverSettings.read(for: .systemd, from: &reader).describe().map(\.name)
        #expect(systemd == ["WSSCALE_SYSTEMD_UNIT", "WSSCALE_SYSTEMD_ENV_DIR", "WSSCALE_SYSTEMD_BUS", "WSSCALE_SYSTEMD_SERVER_HOST"])
        #expect(DriverSettings.read(for: .process, from: &reader).describe().isEmpty)
    }
}
