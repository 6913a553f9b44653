public import Logging

/// Masks secrets in every message and metadata value before another handler writes them.
///
/// The worker redacts what it logs on purpose; this is the net under it, for messages from libraries.
public struct RedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler
    private let redact: @Sendable (String) -> String

    /// Wraps a handler with a redaction function.
    public init(wrapping handler: any LogHandler, redact: @escaping @Sendable (String) -> String) {
        self.wrapped = handler
        self.redact = redact
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: redact(event.message.description))
        event.metadata = event.metadata.map { $0.mapValues(redactValue) }
        wrapped.log(event: event)
    }

    private func redactValue(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(redact(text))
        case .stringConvertible(let convertible): .string(redact(convertible.description))
        case .array(let values): .array(values.map(redactValue))
        case .dictionary(let values): .dictionary(values.mapValues(redactValue))
        }
    }
}
