internal import CLibPQ

/// Owns a libpq `PGresult` and frees it when the last row referring to it goes away.
///
/// `@unchecked Sendable`: a PGresult is read-only after creation and libpq documents it as safe to read from
/// several threads.
final class PostgresResultStorage: @unchecked Sendable {
    let result: OpaquePointer
    let columnNames: [String]
    let columnTypes: [PostgresDataType]
    let rowCount: Int

    init(result: OpaquePointer) {
        self.result = result
        let columns = Int(PQnfields(result))
        self.columnNames = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        self.columnTypes = (0..<columns).map { PostgresDataType(rawValue: PQftype(result, Int32($0))) }
        self.rowCount = Int(PQntuples(result))
    }

    deinit {
        PQclear(result)
    }

    func column(named name: String) -> Int? {
        columnNames.firstIndex(of: name)
    }

    func cell(row: Int, column: Int) -> PostgresCell {
        let type = columnTypes[column]
        if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
            return PostgresCell(bytes: nil, type: type)
        }
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        let pointer = PQgetvalue(result, Int32(row), Int32(column))
        return PostgresCell(bytes: UnsafeRawBufferPointer(start: pointer, count: length), type: type)
    }
}

/// The rows a statement returned, plus the number of rows it affected.
public struct PostgresRows: Sendable, RandomAccessCollection {
    let storage: PostgresResultStorage?
    /// Rows inserted, updated or deleted (from the command tag); for SELECT the number of rows returned.
    public let affectedRows: Int

    init(storage: PostgresResultStorage?, affectedRows: Int) {
        self.storage = storage
        self.affectedRows = affectedRows
    }

    /// The column names, in order.
    public var columns: [String] { storage?.columnNames ?? [] }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage?.rowCount ?? 0 }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(storage: storage!, index: position)
    }

    /// The only row, or `nil` when there is none.
    public var single: PostgresRow? { isEmpty ? nil : self[0] }
}

/// One row of a result; decode fields by column name or position.
public struct PostgresRow: Sendable {
    let storage: PostgresResultStorage
    let index: Int

    /// Decodes the field of the named column.
    ///
    /// - Throws: ``PostgresError`` naming the column when it is missing, NULL for a non-optional type, or of a
    ///   type that cannot be decoded as `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws(PostgresError) -> T {
        guard let position = storage.column(named: column) else {
            throw .decoding(
                "no column named \"\(column)\" in the result (columns: \(storage.columnNames.joined(separator: ", ")))")
        }
        return try decode(T.self, at: position)
    }

    /// Decodes the field at a zero-based column position.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws(PostgresError) -> T {
        guard column >= 0, column < storage.columnNames.count else {
            throw .decoding("column index \(column) is out of range (\(storage.columnNames.count) columns)")
        }
        do {
            return try T.decode(from: storage.cell(row: index, column: column))
        } catch {
            throw .decoding("column \"\(storage.columnNames[column])\" (row \(index)): \(error.reason)")
        }
    }

    /// Whether the named column holds SQL NULL.
    public func isNull(_ column: String) -> Bool {
        guard let position = storage.column(named: column) else { return true }
        return PQgetisnull(storage.result, Int32(index), Int32(position)) != 0
    }
}
