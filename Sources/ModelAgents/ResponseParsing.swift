import Foundation
import ReviewAgents

/// Any JSON value, decoded without `Any`.
enum JSONValue: Sendable, Hashable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    static func parse(_ bytes: ArraySlice<UInt8>) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }
}

/// Finds the findings list in a model's message: bare JSON, JSON in a Markdown code fence, JSON after prose or
/// after a `<think>` block, or the complete findings of a response cut off mid-list.
enum FindingExtraction {
    /// The candidate findings, or nil when the content holds no findings JSON.
    static func candidates(in content: String) -> [JSONValue]? {
        let bytes = Array(stripReasoning(content).utf8)
        // Whole content, then each fenced block, then each balanced value starting at `{` or `[`.
        if let found = recognise(JSONValue.parse(bytes[...])) { return found }
        for block in fencedBlocks(bytes) {
            if let found = recognise(JSONValue.parse(block)) { return found }
        }
        var tried = 0
        var index = 0
        while index < bytes.count && tried < 32 {
            let byte = bytes[index]
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                tried += 1
                if let end = balancedEnd(bytes, from: index) {
                    if let found = recognise(JSONValue.parse(bytes[index..<end])) { return found }
                }
            }
            index += 1
        }
        return salvage(bytes)
    }

    /// `{"findings": [...]}`, a bare array of findings, or a single finding object.
    static func recognise(_ value: JSONValue?) -> [JSONValue]? {
        switch value {
        case .object(let object)?:
            if case .array(let items)? = object["findings"] { return items }
            if object["rule_id"] != nil { return [.object(object)] }
            return nil
        case .array(let items)?:
            return items.allSatisfy({ if case .object = $0 { true } else { false } }) ? items : nil
        default:
            return nil
        }
    }

    /// The content without reasoning blocks (`<think>…</think>`), which some local models emit before answering.
    static func stripReasoning(_ content: String) -> String {
        var text = content
        while let open = text.range(of: "<think>") {
            guard let close = text.range(of: "</think>", range: open.upperBound..<text.endIndex) else {
                text.removeSubrange(open.lowerBound..<text.endIndex)
                break
            }
            text.removeSubrange(open.lowerBound..<close.upperBound)
        }
        return text
    }

    /// The contents of Markdown code fences (```json … ``` or ``` … ```).
    static func fencedBlocks(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        let fence: [UInt8] = Array("```".utf8)
        var blocks: [ArraySlice<UInt8>] = []
        var index = 0
        while let open = find(fence, in: bytes, from: index) {
            var start = open + 3
            while start < bytes.count && bytes[start] != 0x0A { start += 1 }  // skip the info string (`json`)
            guard let close = find(fence, in: bytes, from: start) else { break }
            blocks.append(bytes[min(start, close)..<close])
            index = close + 3
        }
        return blocks
    }

    /// The end (exclusive) of the JSON object or array starting at `start`, or nil when it does not close.
    static func balancedEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var inString = false
        var escaped = false
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                    if depth < 0 { return nil }
                default: break
                }
            }
            index += 1
        }
        return nil
    }

    /// A response cut off inside the findings list (the completion hit its token limit): the complete objects
    /// before the cut.
    static func salvage(_ bytes: [UInt8]) -> [JSONValue]? {
        guard let key = find(Array("\"findings\"".utf8), in: bytes, from: 0),
            let open = bytes[key...].firstIndex(of: UInt8(ascii: "["))
        else { return nil }
        var items: [JSONValue] = []
        var index = open + 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "{") {
                guard let end = balancedEnd(bytes, from: index), let value = JSONValue.parse(bytes[index..<end]) else {
                    break
                }
                items.append(value)
                index = end
            } else if byte == UInt8(ascii: "]") {
                break
            } else {
                index += 1
            }
        }
        return items.isEmpty ? nil : items
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0] && Array(bytes[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// The added lines of the original (unmasked) diff, for fingerprints computed from a line's content exactly as the
/// rules compute theirs.
struct AddedLineIndex: Sendable {
    struct Entry: Sendable {
        var text: String
        /// How many earlier added lines of the same file have the same content (whitespace collapsed).
        var occurrence: Int
    }

    /// path → new-side line number → entry.
    let files: [String: [Int: Entry]]
    /// Every path of the diff that findings may name (ignored paths left out).
    let paths: Set<String>

    init(_ diff: ParsedDiff, configuration: RepositoryConfiguration) {
        var files: [String: [Int: Entry]] = [:]
        var paths: Set<String> = []
        for file in diff.files where !configuration.isIgnored(path: file.path) {
            paths.insert(file.path)
            var entries = files[file.path] ?? [:]
            var seen: [String: Int] = [:]
            for hunk in file.hunks {
                for line in hunk.lines where line.kind == .added {
                    guard let number = line.newLine else { continue }
                    let key = Self.normalised(line.text)
                    let occurrence = seen[key, default: 0]
                    seen[key] = occurrence + 1
                    entries[number] = Entry(text: line.text, occurrence: occurrence)
                }
            }
            files[file.path] = entries
        }
        self.files = files
        self.paths = paths
    }

    static func normalised(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).joined(separator: " ")
    }
}

/// A model finding that passed validation, before configuration and fingerprinting.
struct ValidatedFinding: Sendable, Hashable {
    var slug: String
    var severity: Severity
    var path: String
    var line: Int?
    var message: String
    var suggestion: String?
}

/// Checks one finding object strictly: `rule_id`, `severity`, `path` and `message` are required strings; `line` is
/// an integer naming an added line the chunk showed for that path, or null; `suggestion` is a string or null.
struct FindingValidator {
    let lines: AddedLineIndex
    let chunkLines: [String: Set<Int>]

    static let maximumMessageLength = 1_000

    func validate(_ value: JSONValue) -> ValidatedFinding? {
        guard case .object(let object) = value else { return nil }
        guard case .string(let rule)? = object["rule_id"], let slug = Self.slug(rule) else { return nil }
        guard case .string(let severityName)? = object["severity"], let severity = Severity(name: severityName) else {
            return nil
        }
        guard case .string(let rawPath)? = object["path"], let path = resolve(rawPath) else { return nil }
        var line: Int?
        switch object["line"] {
        case nil, .null?:
            line = nil
        case .number(let number)?:
            guard number.rounded() == number, number >= 1, number < 10_000_000 else { return nil }
            let value = Int(number)
            guard chunkLines[path]?.contains(value) == true else { return nil }
            line = value
        default:
            return nil
        }
        guard case .string(let rawMessage)? = object["message"] else { return nil }
        let message = Self.clean(rawMessage)
        guard !message.isEmpty else { return nil }
        var suggestion: String?
        switch object["suggestion"] {
        case nil, .null?:
            suggestion = nil
        case .string(let text)?:
            let cleaned = Self.clean(text)
            suggestion = cleaned.isEmpty ? nil : cleaned
        default:
            return nil
        }
        return ValidatedFinding(
            slug: slug, severity: severity, path: path, line: line, message: message, suggestion: suggestion)
    }

    /// The path as the diff spells it; a `./` or `b/` prefix the model added is forgiven.
    func resolve(_ raw: String) -> String? {
        let path = raw.trimmingCharacters(in: .whitespaces)
        if lines.paths.contains(path) { return path }
        for prefix in ["./", "b/", "/"] where path.hasPrefix(prefix) {
            let stripped = String(path.dropFirst(prefix.count))
            if lines.paths.contains(stripped) { return stripped }
        }
        return nil
    }

    /// A kebab-case slug from the model's rule id: lowercase letters, digits and dashes, without an `llm.` or
    /// `agent.` prefix, at most 64 characters; nil when nothing usable remains.
    static func slug(_ rule: String) -> String? {
        var text = rule.lowercased().trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("llm.") { text.removeFirst(4) }
        for agent in AgentKind.allCases where text.hasPrefix(agent.rawValue + ".") {
            text.removeFirst(agent.rawValue.count + 1)
        }
        var slug = ""
        for scalar in text.unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty && !slug.hasSuffix("-") {
                slug += "-"
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        slug = String(slug.prefix(64))
        while slug.hasSuffix("-") { slug.removeLast() }
        return slug.isEmpty ? nil : slug
    }

    /// Trimmed, control characters turned into spaces, at most ``maximumMessageLength`` characters.
    static func clean(_ text: String) -> String {
        var cleaned = String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        cleaned = cleaned.trimmingCharacters(in: .whitespaces)
        if cleaned.count > maximumMessageLength { cleaned = String(cleaned.prefix(maximumMessageLength - 1)) + "…" }
        return cleaned
    }
}
