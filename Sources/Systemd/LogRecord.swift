internal import Glibc
internal import Logging

/// One log call with everything a renderer needs: the event plus the merged metadata and the label.
struct LogRecord: Sendable {
    var timestamp: WallClockTime
    var level: Logger.Level
    var label: String
    var message: String
    var error: String?
    /// Handler metadata, then the metadata provider's, then the call's own; later ones win.
    var metadata: Logger.Metadata
    var file: String
    var function: String
    var line: UInt
}

/// Seconds and nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
struct WallClockTime: Sendable, Equatable {
    var seconds: Int
    var nanoseconds: Int

    /// The current wall-clock time.
    static func now() -> WallClockTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClockTime(seconds: spec.tv_sec, nanoseconds: spec.tv_nsec)
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T00:23:45.123Z`.
    var rfc3339: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(nanoseconds / 1_000_000), 3) + "Z"
    }
}

/// The state every handler of this module keeps, with swift-log's value semantics.
struct HandlerState: Sendable {
    let label: String
    let levelSetting: LogLevelSetting
    /// Set when someone assigns `logLevel` on one `Logger`: that logger then stops following the shared level.
    var levelOverride: Logger.Level?
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, levelSetting: LogLevelSetting, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.levelSetting = levelSetting
        self.metadataProvider = metadataProvider
    }

    var logLevel: Logger.Level {
        get { levelOverride ?? levelSetting.level }
        set { levelOverride = newValue }
    }

    func record(for event: LogEvent, at timestamp: WallClockTime = .now()) -> LogRecord {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let own = event.metadata {
            merged.merge(own) { _, new in new }
        }
        return LogRecord(
            timestamp: timestamp,
            level: event.level,
            label: label,
            message: event.message.description,
            error: event.error.map { String(describing: $0) },
            metadata: merged,
            file: event.file,
            function: event.function,
            line: event.line
        )
    }
}

/// Flattens nested metadata into `(path, value)` pairs, sorted by key at every level.
enum MetadataFlattener {
    /// What to do with an array value.
    enum ArrayStyle {
        /// One pair per element, all under the array's key (the journal's multi-value fields).
        case repeatKey
        /// One pair whose value is a compact rendering, e.g. `[a,b]` or `[{k=v},c]`.
        case compact
    }

    /// `["pg": ["sqlstate": "40001"]]` becomes `[("pg.sqlstate", "40001")]`.
    static func flatten(_ metadata: Logger.Metadata, arrays: ArrayStyle) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        for key in metadata.keys.sorted() {
            append(metadata[key]!, path: key, arrays: arrays, to: &pairs)
        }
        return pairs
    }

    private static func append(
        _ value: Logger.MetadataValue,
        path: String,
        arrays: ArrayStyle,
        to pairs: inout [(key: String, value: String)]
    ) {
        switch value {
        case .string(let string):
            pairs.append((path, string))
        case .stringConvertible(let convertible):
            pairs.append((path, convertible.description))
        case .dictionary(let dictionary):
            for key in dictionary.keys.sorted() {
                append(dictionary[key]!, path: path + "." + key, arrays: arrays, to: &pairs)
            }
        case .array(let elements):
            switch arrays {
            case .repeatKey:
                for element in elements {
                    append(element, path: path, arrays: arrays, to: &pairs)
                }
            case .compact:
                pairs.append((path, compact(value)))
            }
        }
    }

    /// `[a,b]` for arrays, `{k=v,l=w}` for dictionaries (keys sorted), the plain text for the rest.
    static func compact(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string):
            string
        case .stringConvertible(let convertible):
            convertible.description
        case .dictionary(let dictionary):
            "{" + dictionary.keys.sorted().map { $0 + "=" + compact(dictionary[$0]!) }.joined(separator: ",") + "}"
        case .array(let elements):
            "[" + elements.map(compact).joined(separator: ",") + "]"
        }
    }
}
