import Foundation

/// A configuration problem, naming the variable and the rule it broke.
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    /// The environment variable (or pair of variables) concerned.
    public var variable: String
    /// What is wrong, for a person.
    public var message: String

    /// Creates an issue.
    public init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    public var description: String { "\(variable): \(message)" }
}

/// Thrown when a configuration is invalid; lists every problem found, not just the first.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every problem found.
    public var issues: [ConfigurationIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    public var description: String {
        "invalid configuration:\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Reads typed settings from environment variables, with a `.env` file's values underneath
/// (the process environment wins), collecting every problem instead of stopping at the first.
///
/// Pure: callers pass the environment and the `.env` text; reading the file is the caller's job.
///
/// ```swift
/// var reader = EnvironmentReader(environment: env, dotEnv: text)
/// let port = reader.int("SERVER_PORT", default: 8088, in: 1...65535)
/// try reader.finish()   // throws ConfigurationError listing every issue
/// ```
public struct EnvironmentReader: Sendable {
    /// The merged variables: `.env` values overridden by the environment.
    public private(set) var values: [String: String]
    /// Problems found so far.
    public private(set) var issues: [ConfigurationIssue] = []

    /// Creates a reader.
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - dotEnv: the text of a `.env` file, if there is one.
    public init(environment: [String: String], dotEnv: String? = nil) {
        var merged = dotEnv.map(Self.parseDotEnv) ?? [:]
        for (key, value) in environment { merged[key] = value }
        self.values = merged
    }

    /// Parses `.env` text: `KEY=value` lines, `#` comments, optional `export `, optional
    /// single or double quotes around the value.
    public static func parseDotEnv(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'",
               let closing = value.dropFirst().firstIndex(of: quote) {
                value = String(value[value.index(after: value.startIndex)..<closing])
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            if !key.isEmpty { result[key] = value }
        }
        return result
    }

    /// Records a problem (for rules that involve several variables). The same problem reported
    /// again (a variable two readers share, such as `WSSCALE_POOL`, checked by the same rule)
    /// is listed once.
    public mutating func report(_ variable: String, _ message: String) {
        let issue = ConfigurationIssue(variable: variable, message: message)
        if !issues.contains(issue) { issues.append(issue) }
    }

    /// Gives `name` the value `value` when it is unset or empty (what a command decides for
    /// the settings it hands on, such as the admin token file `wsscale up` creates).
    public mutating func setIfUnset(_ name: String, _ value: String) {
        if raw(name) == nil { values[name] = value }
    }

    /// The raw value of a variable, or `nil` when unset or empty.
    public func raw(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// A string setting.
    public func string(_ name: String, default defaultValue: String) -> String {
        raw(name) ?? defaultValue
    }

    /// An integer setting within a range.
    public mutating func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text) else {
            report(name, "must be a whole number, got \"\(text)\"")
            return defaultValue
        }
        guard range.contains(value) else {
            report(name, "must be \(Self.describe(range)), got \(value)")
            return defaultValue
        }
        return value
    }

    /// One of a fixed set of words (an enum's raw values), the default when unset; any other
    /// word is reported as "must be one of …", and the default is kept.
    public mutating func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: Choice) -> Choice
    where Choice.RawValue == String {
        guard let text = raw(name) else { return defaultValue }
        return Self.choice(text, named: name, default: defaultValue, reporting: &self)
    }

    /// `text` as one of `Choice`'s words, for a value that does not come from the environment
    /// (a command-line option); reported on `reader` under `name` when it is none of them.
    public static func choice<Choice: RawRepresentable & CaseIterable>(_ text: String, named name: String, default defaultValue: Choice,
                                                                        reporting reader: inout EnvironmentReader) -> Choice
    where Choice.RawValue == String {
        if let value = Choice(rawValue: text) { return value }
        let words = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        reader.report(name, "must be one of \(words), got \"\(SettingRule.escaped(text))\"")
        return defaultValue
    }

    /// A percentage from 0 to 100.
    public mutating func percent(_ name: String, default defaultValue: Int) -> Int {
        int(name, default: defaultValue, in: 0...100)
    }

    /// A duration given in (possibly fractional) seconds, within a range of seconds.
    public mutating func seconds(_ name: String, default defaultValue: Duration,
                                 in range: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude) -> Duration {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Double(text), value.isFinite else {
            report(name, "must be a number of seconds, got \"\(text)\"")
            return defaultValue
        }
        guard range.contains(value) else {
            if range.upperBound == .greatestFiniteMagnitude {
                report(name, "must be at least \(Self.describe(range.lowerBound)) seconds, got \(text)")
            } else {
                report(name, "must be between \(Self.describe(range.lowerBound)) and \(Self.describe(range.upperBound)) seconds, got \(text)")
            }
            return defaultValue
        }
        guard abs(value) <= Self.largestSeconds else {
            report(name, "must be at most \(Self.describe(Self.largestSeconds)) seconds, got \(text)")
            return defaultValue
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// A boolean setting: true/false, 1/0, yes/no, on/off.
    public mutating func bool(_ name: String, default defaultValue: Bool) -> Bool {
        guard let text = raw(name)?.lowercased() else { return defaultValue }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            report(name, "must be true or false, got \"\(text)\"")
            return defaultValue
        }
    }

    /// Throws a `ConfigurationError` listing every problem, if there was any.
    public func finish() throws {
        if !issues.isEmpty { throw ConfigurationError(issues: issues) }
    }

    /// The longest duration a setting may have (about 31,700 years): milliseconds fit in `Int64`.
    private static let largestSeconds: Double = 1e12

    private static func describe(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        if range.lowerBound == Int.min { return "at most \(range.upperBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }
}
