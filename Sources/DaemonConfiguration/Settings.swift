public import Logging
public import Systemd

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

// Reading a daemon's configuration (queue-worker, queue-webhook): the environment and a systemd EnvironmentFile-style
// settings file, typed values with messages that name the setting, and exit status 78 for any problem.

/// A setting that is missing, invalid or unknown. The worker exits with status 78 (EX_CONFIG) for it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The setting's name (environment variable, settings-file key or option).
    public let setting: String
    /// What is wrong, naming the setting; never a secret's value.
    public let description: String

    /// A problem with a setting: its name, then the problem.
    public init(setting: String, _ problem: String) {
        self.setting = setting
        self.description = "\(setting) \(problem)"
    }

    /// A problem described by a whole message that names the setting.
    public init(setting: String, message: String) {
        self.setting = setting
        self.description = message
    }
}

/// Reads `KEY=value` lines (the systemd EnvironmentFile format: `#` comments, optional quotes).
public enum ConfigurationFile {
    /// The settings in the file, or nil when it does not exist and `missingIsError` is false.
    public static func read(path: String, missingIsError: Bool = true) throws(ConfigurationError) -> [String: String]? {
        guard let file = fopen(path, "r") else {
            let code = errno
            if code == ENOENT && !missingIsError { return nil }
            throw ConfigurationError(
                setting: "--config", "file \(path) cannot be read (\(String(cString: strerror(code))))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return try parse(String(decoding: bytes, as: UTF8.self), name: path)
    }

    /// Parses the text of a settings file.
    public static func parse(_ text: String, name: String) throws(ConfigurationError) -> [String: String] {
        var settings: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            while let first = line.first, first == " " || first == "\t" { line = line.dropFirst() }
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(setting: "--config", "\(name):\(index + 1): expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: [" ", "\t"])
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError(setting: "--config", "\(name):\(index + 1): invalid key '\(key)'")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: [" ", "\t"])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            settings[key] = value
        }
        return settings
    }
}

/// The process environment as a dictionary.
public enum ProcessEnvironment {
    /// The current environment.
    public static func current() -> [String: String] {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return values
    }
}

/// Typed reading of settings with messages that name the setting.
/// Typed reading of settings with messages that name the setting. An empty value counts as not set.
public struct SettingsReader: Sendable {
    /// The settings (environment and file, merged).
    public let settings: [String: String]

    /// A reader over settings.
    public init(settings: [String: String]) {
        self.settings = settings
    }

    /// The value of a setting, or nil when it is not set or empty.
    public func value(_ name: String) -> String? {
        guard let value = settings[name], !value.isEmpty else { return nil }
        return value
    }

    /// A whole number within `range`.
    public func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError)
        -> Int
    {
        guard let text = value(name) else { return fallback }
        guard let number = Int(text), range.contains(number) else {
            throw ConfigurationError(
                setting: name, "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return number
    }

    /// A number of seconds within `range`.
    public func seconds(_ name: String, default fallback: Double, range: ClosedRange<Double>) throws(ConfigurationError)
        -> Duration
    {
        guard let text = value(name) else { return .milliseconds(Int64(fallback * 1000)) }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            throw ConfigurationError(
                setting: name,
                "must be a number of seconds from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return .milliseconds(Int64((number * 1000).rounded()))
    }

    /// A number of milliseconds within `range`.
    public func milliseconds(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError)
        -> Duration
    {
        .milliseconds(try integer(name, default: fallback, range: range))
    }

    /// A comma-separated list with at least one item.
    public func list(_ name: String, default fallback: [String]) throws(ConfigurationError) -> [String] {
        guard let text = value(name) else { return fallback }
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: [" ", "\t"]) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw ConfigurationError(setting: name, "must list at least one queue") }
        return items
    }

    /// true/false (also 1/0, yes/no, on/off).
    public func boolean(_ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        guard let text = value(name)?.lowercased() else { return fallback }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(setting: name, "must be true or false (got '\(text)')")
        }
    }

    /// A log level (trace … critical).
    public func logLevel(_ name: String, default fallback: Logger.Level) throws(ConfigurationError) -> Logger.Level {
        guard let text = value(name)?.lowercased() else { return fallback }
        let aliases = ["warn": "warning", "err": "error", "crit": "critical", "fatal": "critical"]
        guard let level = Logger.Level(rawValue: aliases[text] ?? text) else {
            throw ConfigurationError(
                setting: name, "must be one of trace, debug, info, notice, warning, error, critical (got '\(text)')")
        }
        return level
    }

    /// A log format (auto, journal, logfmt, json).
    public func logFormat(_ name: String, default fallback: LogFormat) throws(ConfigurationError) -> LogFormat {
        guard let text = value(name)?.lowercased() else { return fallback }
        guard let format = LogFormat(rawValue: text) else {
            throw ConfigurationError(setting: name, "must be one of auto, journal, logfmt, json (got '\(text)')")
        }
        return format
    }

    /// A secret: the value of `name`, or the contents of the file `name_FILE` names (systemd's `LoadCredential=`
    /// puts it in `$CREDENTIALS_DIRECTORY`), trailing newlines removed.
    public func secret(_ name: String) throws(ConfigurationError) -> String? {
        if let text = value(name) { return text }
        guard let path = value(name + "_FILE") else { return nil }
        guard let file = fopen(path, "r") else {
            throw ConfigurationError(setting: name + "_FILE", "names a file that cannot be read: \(path)")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text.isEmpty ? nil : text
    }
}

extension StringProtocol {
    /// The string without `characters` at either end.
    public func trimmingCharacters(in characters: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension Duration {
    /// Whole milliseconds.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as text, e.g. `2.5`.
    public var secondsText: String {
        let value = Double(milliseconds) / 1000
        return value == value.rounded() ? String(Int64(value)) : String(value)
    }
}

/// Whether a settings file was read.
public enum SettingsFileStatus: Sendable, Equatable {
    /// No `--config` was given.
    case none
    /// The file was read.
    case read(String)
    /// The optional file (`--config=-PATH`) does not exist; the environment alone applies.
    case missing(String)
}

/// Reads a daemon's settings: the environment, overridden by an optional `KEY=value` file (`--config`), refusing
/// unknown keys with the nearest known one.
public enum SettingsLoader {
    /// The merged settings and which file was read.
    ///
    /// - Parameters:
    ///   - known: every setting the daemon reads.
    ///   - checkedPrefixes: environment variables with these prefixes are the daemon's; one that is not a setting is a
    ///     mistake. (Others, such as `PATH` or `GITHUB_ACTIONS`, belong to someone else and are not checked.) Every key
    ///     of the file is checked.
    ///   - configFile: the file's path; a leading `-` (as in systemd's `EnvironmentFile=-…`) makes it optional.
    public static func load(
        environment: [String: String], configFile: String?, known: Set<String>, checkedPrefixes: [String]
    ) throws(ConfigurationError) -> (settings: [String: String], file: SettingsFileStatus) {
        var settings = environment
        var status = SettingsFileStatus.none
        for key in environment.keys.sorted()
        where checkedPrefixes.contains(where: key.hasPrefix) && !known.contains(key) {
            throw ConfigurationError(
                setting: key, "is not a setting (in the environment)\(suggestion(for: key, among: known))")
        }
        if let configFile {
            let optional = configFile.hasPrefix("-")
            let path = optional ? String(configFile.dropFirst()) : configFile
            guard !path.isEmpty else { throw ConfigurationError(setting: "--config", "needs a file name") }
            if let values = try ConfigurationFile.read(path: path, missingIsError: !optional) {
                for key in values.keys.sorted() where !known.contains(key) {
                    throw ConfigurationError(
                        setting: key, "is not a setting (in \(path))\(suggestion(for: key, among: known))")
                }
                for (key, value) in values { settings[key] = value }
                status = .read(path)
            } else {
                status = .missing(path)
            }
        }
        return (settings, status)
    }

    /// `" (did you mean X?)"` for the setting nearest to an unknown key, or nothing when none is near.
    static func suggestion(for key: String, among settingNames: Set<String>) -> String {
        let upper = key.uppercased()
        let nearest = settingNames.map { ($0, editDistance(upper, $0)) }.min {
            $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0)
        }
        guard let nearest, nearest.1 <= max(2, nearest.0.count / 4) else { return "" }
        return " (did you mean \(nearest.0)?)"
    }

    /// The Levenshtein distance between two strings.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
