/// A diff whose credentials are masked, ready to leave the process (for example for a model endpoint).
public struct MaskedDiff: Sendable, Hashable {
    /// The diff with masked line texts and hunk sections; paths, line numbers and structure are unchanged.
    public let diff: ParsedDiff
    /// How many lines (and hunk sections) were changed by masking.
    public let maskedLineCount: Int
}

extension ParsedDiff {
    /// A copy in which every credential the security agent's scanner recognises is masked, on every line of every
    /// hunk whatever its kind (added, context or removed) and in hunk sections.
    ///
    /// A credential becomes its first characters followed by `****` (``maskSecret(_:)``); the body lines of a
    /// private key block become `****`. The scanner runs with its widest settings (bare values in every language,
    /// test files and lockfiles included), so this masks at least what the security agent would report. A line
    /// that still matches after masking its words is replaced by `****` entirely.
    public func maskingCredentials() -> MaskedDiff {
        var files = files
        var masked = 0
        for fileIndex in files.indices {
            let language = Language(path: files[fileIndex].path)
            let masker = CredentialMasker(language: language)
            for hunkIndex in files[fileIndex].hunks.indices {
                masked += masker.mask(&files[fileIndex].hunks[hunkIndex])
            }
        }
        return MaskedDiff(diff: ParsedDiff(files: files, byteCount: byteCount), maskedLineCount: masked)
    }
}

/// Masks the credentials of one file's hunks with ``SecretScanner``. The scanner reports findings, not positions,
/// so a credential is located by masking words of the line and watching which hits disappear.
struct CredentialMasker {
    let language: Language
    let scanner: SecretScanner

    /// Rounds of masking per line before the whole line is replaced.
    static let maximumRounds = 16

    init(language: Language) {
        self.language = language
        scanner = SecretScanner(language: language, bareValues: true, isTest: false)
    }

    /// Masks a hunk in place; returns the number of lines (and sections) changed.
    func mask(_ hunk: inout DiffHunk) -> Int {
        var count = 0
        if let section = maskLine(Array(hunk.section.utf8), lexer: LineLexer(language: language), next: nil) {
            hunk.section = String(decoding: section, as: UTF8.self)
            count += 1
        }
        // Lex every line in order (the lexer carries block comments and multi-line strings across lines), keeping
        // the lexer's state before each line so the masked variants of that line are lexed the same way.
        var lexer = LineLexer(language: language)
        var states: [LineLexer] = []
        var lines: [SourceLine] = []
        states.reserveCapacity(hunk.lines.count)
        lines.reserveCapacity(hunk.lines.count)
        for line in hunk.lines {
            states.append(lexer)
            lines.append(lexer.lex(Array(line.text.utf8), number: line.newLine ?? line.oldLine ?? 0, isAdded: true))
        }
        var inKeyBlock = false
        for index in hunk.lines.indices {
            let raw = lines[index].raw
            if inKeyBlock {
                if !raw.has("-----END") {
                    hunk.lines[index].text = "****"
                    count += 1
                    continue
                }
                inKeyBlock = false
            }
            let opensKeyBlock = Self.opensPrivateKeyBlock(raw)
            if opensKeyBlock { inKeyBlock = true }
            // The body of an opened block is masked line by line above; the header alone is not a secret.
            let next = !opensKeyBlock && index + 1 < lines.count ? lines[index + 1] : nil
            if let masked = maskLine(raw, lexer: states[index], next: next) {
                hunk.lines[index].text = String(decoding: masked, as: UTF8.self)
                count += 1
            }
        }
        return count
    }

    /// `-----BEGIN … PRIVATE KEY-----` without its end on the same line.
    static func opensPrivateKeyBlock(_ raw: [UInt8]) -> Bool {
        guard let begin = raw.find("-----BEGIN "), raw.find("PRIVATE KEY", from: begin) != nil else { return false }
        return raw.find("-----END", from: begin) == nil
    }

    /// The line with its credentials masked, or nil when the scanner finds none.
    func maskLine(_ raw: [UInt8], lexer: LineLexer, next: SourceLine?) -> [UInt8]? {
        func hits(_ bytes: [UInt8]) -> [String] {
            var lexer = lexer
            let line = lexer.lex(bytes, number: 0, isAdded: true)
            return (scanner.scan(line, next: next) + widerAssignments(line)).map(\.message).sorted()
        }
        var current = raw
        var currentHits = hits(current)
        if currentHits.isEmpty { return nil }
        for _ in 0..<Self.maximumRounds {
            let words = Self.words(current).filter { !Array(current[$0]).has("****") }
            // The words whose masking changes what the scanner reports take part in a detected credential.
            var needed = words.filter { hits(Self.masking(current, [$0])) != currentHits }
            if needed.isEmpty { break }
            let target = hits(Self.masking(current, needed))
            // Unmask, left to right, the words the result does not depend on: the name in `password = "…"` or the
            // `-----BEGIN` of an inline key stay readable, the value or key body (to their right) stays masked.
            var index = 0
            while index < needed.count && needed.count > 1 {
                var without = needed
                without.remove(at: index)
                if hits(Self.masking(current, without)) == target {
                    needed = without
                } else {
                    index += 1
                }
            }
            current = Self.masking(current, needed)
            currentHits = target
            if currentHits.isEmpty { return current }
        }
        // Words alone did not silence the scanner: hide the whole line, keeping its indentation.
        let indent = raw.prefix(while: \.isSpaceOrTab)
        return Array(indent) + Array("****".utf8)
    }

    /// Assigned credentials the scanner leaves to other rules because of their name (`SERVICE_SECRET=…`,
    /// `auth_header_value: …`): its name exclusions keep findings precise, but nothing random-looking that is
    /// assigned to a credential-like name should leave the process. Values are judged by the scanner itself.
    func widerAssignments(_ line: SourceLine) -> [SecretScanner.Hit] {
        let raw = line.raw
        let lower = raw.asciiLowercased
        guard lower.hasAny(SecretScanner.nameWords) else { return [] }
        var hits: [SecretScanner.Hit] = []
        for index in raw.indices where raw[index] == UInt8(ascii: "=") || raw[index] == UInt8(ascii: ":") {
            let previous = index > 0 ? raw[index - 1] : 0
            let following = index + 1 < raw.count ? raw[index + 1] : 0
            var valueStart = index + 1
            // Comparisons, `::` and the `://` of URLs are not assignments; `:=` and `=>` are.
            if raw[index] == UInt8(ascii: ":") {
                if previous == UInt8(ascii: ":") || following == UInt8(ascii: ":") || following == UInt8(ascii: "/") {
                    continue
                }
                if following == UInt8(ascii: "=") { valueStart += 1 }
            } else {
                if [UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ":")]
                    .contains(previous) || following == UInt8(ascii: "=")
                {
                    continue
                }
                if following == UInt8(ascii: ">") { valueStart += 1 }
            }
            guard let (nameStart, nameEnd) = SecretScanner.nameBefore(raw, operatorAt: index) else { continue }
            let name = Array(lower[nameStart..<nameEnd])
            guard name.hasAny(SecretScanner.nameWords), let value = scanner.valueAfter(line, from: valueStart),
                let hit = scanner.judge(name: name, value: value, line: line)
            else { continue }
            hits.append(hit)
        }
        return hits
    }

    /// `raw` with each range replaced by ``maskSecret(_:)`` of its text. The ranges are sorted and disjoint.
    static func masking(_ raw: [UInt8], _ ranges: [Range<Int>]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(raw.count)
        var position = 0
        for range in ranges {
            result += raw[position..<range.lowerBound]
            result += Array(maskSecret(String(decoding: raw[range], as: UTF8.self)).utf8)
            position = range.upperBound
        }
        result += raw[position...]
        return result
    }

    /// The words of a line: runs between spaces, quotes and brackets, with `NAME=VALUE` split at its first `=`.
    static func words(_ raw: [UInt8]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var index = 0
        while index < raw.count {
            if isSeparator(raw[index]) {
                index += 1
                continue
            }
            var end = index
            while end < raw.count && !isSeparator(raw[end]) { end += 1 }
            var split: Int?
            var probe = index
            while probe < end
                && (raw[probe].isIdentifierByte || raw[probe] == UInt8(ascii: ".")
                    || raw[probe] == UInt8(ascii: "-"))
            {
                probe += 1
            }
            if probe > index && probe < end && raw[probe] == UInt8(ascii: "=") { split = probe }
            if let split {
                words.append(index..<split)
                var valueStart = split
                while valueStart < end && (raw[valueStart] == UInt8(ascii: "=") || raw[valueStart] == UInt8(ascii: ">"))
                {
                    valueStart += 1
                }
                if valueStart < end { words.append(valueStart..<end) }
            } else {
                words.append(index..<end)
            }
            index = end
        }
        return words
    }

    static func isSeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"), UInt8(ascii: ","),
            UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "<"), UInt8(ascii: ">"):
            true
        default:
            false
        }
    }
}
