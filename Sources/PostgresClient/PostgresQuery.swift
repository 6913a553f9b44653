/// A SQL statement whose values travel only as bind parameters.
///
/// Interpolated values become `$1, $2, …` placeholders and are sent separately from the SQL text:
/// ```swift
/// let rows = try await connection.query("SELECT id FROM tasks WHERE queue = \(queue) AND priority > \(minimum)")
/// ```
/// Only literal text and ``StringInterpolation/appendInterpolation(identifier:)`` (a quoted identifier) become
/// part of the SQL itself.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL text with `$n` placeholders.
    public var sql: String
    /// The bound values in text format; `nil` is SQL NULL.
    public var binds: [String?]
    /// Whether to prepare the statement once per connection and reuse the plan (for hot, fixed statements).
    public var prepared: Bool

    /// Creates a query from SQL text that must not contain any value from outside the program, plus its binds.
    public init(unsafeSQL sql: String, binds: [String?] = [], prepared: Bool = false) {
        self.sql = sql
        self.binds = binds
        self.prepared = prepared
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// The same statement, prepared once per connection and reused.
    public func preparedStatement() -> PostgresQuery {
        var copy = self
        copy.prepared = true
        return copy
    }

    /// The SQL text only; bound values are never printed.
    public var description: String { sql }

    /// Builds the SQL text and its binds.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql: String
        var binds: [String?]

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds = []
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Appends a value as the next bind parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Appends an optional value as the next bind parameter (NULL when `nil`).
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }

        /// Appends a double-quoted identifier (a schema, table or channel name), escaping embedded quotes.
        public mutating func appendInterpolation(identifier: String) {
            sql += PostgresQuery.quoteIdentifier(identifier)
        }

        /// Appends another query, renumbering its placeholders.
        public mutating func appendInterpolation(fragment: PostgresQuery) {
            let offset = binds.count
            sql += offset == 0 ? fragment.sql : PostgresQuery.renumber(fragment.sql, by: offset)
            binds += fragment.binds
        }
    }

    /// Quotes an identifier for SQL text: `my"name` becomes `"my""name"`.
    public static func quoteIdentifier(_ identifier: String) -> String {
        "\"" + identifier.replacing("\"", with: "\"\"") + "\""
    }

    static func renumber(_ sql: String, by offset: Int) -> String {
        var result = ""
        var iterator = sql.makeIterator()
        var pending: Character? = iterator.next()
        while let character = pending {
            pending = iterator.next()
            guard character == "$", let next = pending, next.isASCII, next.isNumber else {
                result.append(character)
                continue
            }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = iterator.next()
            }
            result += "$\(Int(digits)! + offset)"
        }
        return result
    }
}
