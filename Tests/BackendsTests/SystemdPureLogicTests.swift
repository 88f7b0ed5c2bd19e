import Testing
import WSScaleBackends
import WSScaleCore

/// The systemd backend's pure pieces, without I/O: environment-file encoding, unit names,
/// settings.
@Suite struct SystemdPureLogicTests {
    @Test func environmentFilesQuoteAndEscapeEveryValue() throws {
        let text = try SystemdEnvironmentFile([
            "SERVER_PORT": "8088", "REDIS_URL": "redis://:p@ss w$rd@h:1/0", "TRICKY": #"a "b" \c `e` 'f' #g"#, "EMPTY": "",
        ]).encoded()
        #expect(text == """
            EMPTY=""
            REDIS_URL="redis://:p@ss w\\$rd@h:1/0"
            SERVER_PORT="8088"
            TRICKY="a \\"b\\" \\\\c \\`e\\` 'f' #g"

            """)
    }

    @Test(arguments: ["a\nb", "a\rb", "a\0b"])
    func valuesWithLineBreaksAreRejected(_ value: String) {
        #expect(throws: SystemdEnvironmentFile.InvalidVariable.self) { try SystemdEnvironmentFile(["KEY": value]).encoded() }
    }

    @Test(arguments: ["", "1ABC", "A-B", "A B", "A=B", "Ä"])
    func badKeysAreRejected(_ key: String) {
        #expect(throws: SystemdEnvironmentFile.InvalidVariable.self) { try SystemdEnvironmentFile([key: "x"]).encoded() }
    }

    @Test(arguments: ["_A", "A1_b", "SERVER_ID"])
    func goodKeysAreAccepted(_ key: String) {
        #expect(SystemdEnvironmentFile.isValidKey(key))
    }

    @Test func environmentFilesReadBackWhatWasWritten() throws {
        let variables = ["A": #"x "y" \z $w `v`"#, "SERVER_PORT": "4242", "B": "", "C": "trailing\\"]
        #expect(SystemdEnvironmentFile.decode(try SystemdEnvironmentFile(variables).encoded()) == variables)
    }

    @Test func unitNamesCarryPoolAndID() {
        let names = SystemdUnitName(prefix: "wsscale-server@", pool: "blue")
        #expect(names.unit("ws-1") == "wsscale-server@blue:ws-1.service")
        #expect(names.instance("ws-1") == "blue:ws-1")
        #expect(names.pattern == "wsscale-server@blue:*.service")
        #expect(names.id(ofUnit: "wsscale-server@blue:ws-1.service") == "ws-1")
        #expect(names.id(ofUnit: names.unit("a.b_c-D9")) == "a.b_c-D9")
    }

    @Test(arguments: ["wsscale-server@green:ws-1.service", "wsscale-server@blue2:ws-1.service", "other@blue:ws-1.service",
                      "wsscale-server@blue:.service", "wsscale-server@blue:ws-1.socket", "wsscale-server@blue:a:b.service",
                      "wsscale-server@blue:ws 1.service"])
    func unitsOfOtherPoolsOrTemplatesAreNotOurs(_ unit: String) {
        #expect(SystemdUnitName(prefix: "wsscale-server@", pool: "blue").id(ofUnit: unit) == nil)
    }

    @Test func prefixesAreTemplateNames() {
        #expect(SystemdUnitName.isValidPrefix("wsscale-server@"))
        #expect(SystemdUnitName.isValidPrefix("a:b@"))
        for bad in ["", "@", "wsscale-server", "ws server@", "ws*@", "a/b@", ":@"] {
            #expect(!SystemdUnitName.isValidPrefix(bad), "\(bad)")
        }
    }

    @Test func settingsHaveDefaults() throws {
        var reader = EnvironmentReader(environment: [:])
        let configuration = SystemdDriverConfiguration.read(from: &reader)
        try reader.finish()
        #expect(configuration.unitPrefix == "wsscale-server@")
        #expect(configuration.environmentDirectory == "/run/wsscale")
        #expect(configuration.busAddress == nil)
        #expect(configuration.serverHost == "127.0.0.1")
        #expect(configuration.pool == "wsscale")
    }

    @Test func settingsAreRead() throws {
        var reader = EnvironmentReader(environment: [
            "WSSCALE_SYSTEMD_UNIT": "ws@", "WSSCALE_SYSTEMD_ENV_DIR": "/tmp/x", "WSSCALE_POOL": "blue",
            "WSSCALE_SYSTEMD_BUS": "unix:path=/tmp/x/system_bus_socket", "WSSCALE_SYSTEMD_SERVER_HOST": "127.0.0.2",
        ])
        let configuration = SystemdDriverConfiguration.read(from: &reader)
        try reader.finish()
        #expect(configuration == SystemdDriverConfiguration(
            unitPrefix: "ws@", pool: "blue", environmentDirectory: "/tmp/x",
            busAddress: "unix:path=/tmp/x/system_bus_socket", serverHost: "127.0.0.2"))
    }

    @Test func badSettingsNameTheirVariables() {
        var reader = EnvironmentReader(environment: [
            "WSSCALE_SYSTEMD_UNIT": "wsscale-server", "WSSCALE_SYSTEMD_ENV_DIR": "relative", "WSSCALE_POOL": "a:b",
            "WSSCALE_SYSTEMD_BUS": "/run/dbus/system_bus_socket", "WSSCALE_SYSTEMD_SERVER_HOST": "a b",
        ])
        _ = SystemdDriverConfiguration.read(from: &reader)
        #expect(Set(reader.issues.map(\.variable)) == ["WSSCALE_SYSTEMD_UNIT", "WSSCALE_SYSTEMD_ENV_DIR", "WSSCALE_POOL",
                                                       "WSSCALE_SYSTEMD_BUS", "WSSCALE_SYSTEMD_SERVER_HOST"])
    }

    @Test func aDriverRefusesABadConfiguration() {
        #expect(throws: ConfigurationError.self) {
            try SystemdDriver(configuration: SystemdDriverConfiguration(unitPrefix: "nope"), logger: .init(label: "test"))
        }
    }
}
