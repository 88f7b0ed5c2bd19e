import Logging

/// `LOG_LEVEL`: how much a subcommand logs to standard error, one of `trace`, `debug`, `info`
/// (the default), `notice`, `warning`, `error`, `critical`, in any case. Read through the
/// command's `EnvironmentReader` like every other setting, so `./.env` and
/// `wsscale balancer --check-config` see it, and a value outside the list is reported naming
/// the variable (exit status 2) instead of falling back to `info`.
public enum LogLevelSetting {
    /// The variable's name.
    public static let variable = "LOG_LEVEL"

    /// Reads `LOG_LEVEL`; a bad value is reported on `reader` and `info` returned.
    public static func read(from reader: inout EnvironmentReader) -> Logger.Level {
        guard let text = reader.raw(variable) else { return .info }
        return EnvironmentReader.choice(text.lowercased(), named: variable, default: Logger.Level.info, reporting: &reader)
    }
}
