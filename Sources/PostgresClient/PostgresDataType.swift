/// A PostgreSQL type, identified by its OID.
public struct PostgresDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The type's OID in `pg_type`.
    public let rawValue: UInt32

    /// Creates a type from its OID.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `bool`
    public static let bool = PostgresDataType(rawValue: 16)
    /// `bytea`
    public static let bytea = PostgresDataType(rawValue: 17)
    /// `name`
    public static let name = PostgresDataType(rawValue: 19)
    /// `int8`
    public static let int8 = PostgresDataType(rawValue: 20)
    /// `int2`
    public static let int2 = PostgresDataType(rawValue: 21)
    /// `int4`
    public static let int4 = PostgresDataType(rawValue: 23)
    /// `text`
    public static let text = PostgresDataType(rawValue: 25)
    /// `oid`
    public static let oid = PostgresDataType(rawValue: 26)
    /// `json`
    public static let json = PostgresDataType(rawValue: 114)
    /// `float4`
    public static let float4 = PostgresDataType(rawValue: 700)
    /// `float8`
    public static let float8 = PostgresDataType(rawValue: 701)
    /// `unknown`
    public static let unknown = PostgresDataType(rawValue: 705)
    /// `bpchar`
    public static let bpchar = PostgresDataType(rawValue: 1042)
    /// `varchar`
    public static let varchar = PostgresDataType(rawValue: 1043)
    /// `date`
    public static let date = PostgresDataType(rawValue: 1082)
    /// `timestamp`
    public static let timestamp = PostgresDataType(rawValue: 1114)
    /// `timestamptz`
    public static let timestamptz = PostgresDataType(rawValue: 1184)
    /// `interval`
    public static let interval = PostgresDataType(rawValue: 1186)
    /// `numeric`
    public static let numeric = PostgresDataType(rawValue: 1700)
    /// `uuid`
    public static let uuid = PostgresDataType(rawValue: 2950)
    /// `jsonb`
    public static let jsonb = PostgresDataType(rawValue: 3802)
    /// `_bool`
    public static let boolArray = PostgresDataType(rawValue: 1000)
    /// `_int2`
    public static let int2Array = PostgresDataType(rawValue: 1005)
    /// `_int4`
    public static let int4Array = PostgresDataType(rawValue: 1007)
    /// `_text`
    public static let textArray = PostgresDataType(rawValue: 1009)
    /// `_bpchar`
    public static let bpcharArray = PostgresDataType(rawValue: 1014)
    /// `_varchar`
    public static let varcharArray = PostgresDataType(rawValue: 1015)
    /// `_int8`
    public static let int8Array = PostgresDataType(rawValue: 1016)
    /// `_float8`
    public static let float8Array = PostgresDataType(rawValue: 1022)
    /// `_uuid`
    public static let uuidArray = PostgresDataType(rawValue: 2951)
    /// `_jsonb`
    public static let jsonbArray = PostgresDataType(rawValue: 3807)
    /// `_name`
    public static let nameArray = PostgresDataType(rawValue: 1003)

    /// The SQL name for well-known types, or `oid N`.
    public var description: String {
        switch self {
        case .bool: "bool"
        case .bytea: "bytea"
        case .name: "name"
        case .int8: "int8"
        case .int2: "int2"
        case .int4: "int4"
        case .text: "text"
        case .oid: "oid"
        case .json: "json"
        case .float4: "float4"
        case .float8: "float8"
        case .unknown: "unknown"
        case .bpchar: "bpchar"
        case .varchar: "varchar"
        case .date: "date"
        case .timestamp: "timestamp"
        case .timestamptz: "timestamptz"
        case .interval: "interval"
        case .numeric: "numeric"
        case .uuid: "uuid"
        case .jsonb: "jsonb"
        case .boolArray: "bool[]"
        case .int2Array: "int2[]"
        case .int4Array: "int4[]"
        case .textArray: "text[]"
        case .bpcharArray: "bpchar[]"
        case .varcharArray: "varchar[]"
        case .int8Array: "int8[]"
        case .float8Array: "float8[]"
        case .uuidArray: "uuid[]"
        case .jsonbArray: "jsonb[]"
        case .nameArray: "name[]"
        default: "oid \(rawValue)"
        }
    }

    /// Types whose binary form is UTF-8 text.
    var isTextual: Bool {
        self == .text || self == .varchar || self == .bpchar || self == .name || self == .unknown
    }
}
