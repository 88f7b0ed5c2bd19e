/// Settings read from environment variables: the one way every part of wsscale loads its
/// configuration. A type reads its variables from an ``EnvironmentReader``, which collects
/// every problem (each naming its variable) instead of stopping at the first; whoever reads
/// several types from one reader calls ``EnvironmentReader/finish()`` once at the end.
public protocol EnvironmentSettings {
    /// Reads the settings. A variable with a problem keeps its default and is reported to
    /// `reader`, so the result is usable for display even when the reader has issues.
    static func read(from reader: inout EnvironmentReader) -> Self
}

extension EnvironmentSettings {
    /// Reads the settings alone from an environment and the text of a `.env` file (the
    /// environment wins).
    /// - Throws: `ConfigurationError` listing every problem, each naming its variable.
    public static func read(environment: [String: String], dotEnv: String? = nil) throws -> Self {
        var reader = EnvironmentReader(environment: environment, dotEnv: dotEnv)
        let settings = read(from: &reader)
        try reader.finish()
        return settings
    }
}
