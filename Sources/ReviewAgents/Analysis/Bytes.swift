// Small byte-level helpers used by the hand-written scanners. The agents work on UTF-8 bytes rather than
// `String` or regular expressions because a byte loop is an order of magnitude faster on large diffs.

extension UInt8 {
    @inline(__always) var isASCIIDigit: Bool { self &- 0x30 < 10 }
    @inline(__always) var isASCIIUpper: Bool { self &- 0x41 < 26 }
    @inline(__always) var isASCIILower: Bool { self &- 0x61 < 26 }
    @inline(__always) var isASCIILetter: Bool { (self | 0x20) &- 0x61 < 26 }
    @inline(__always) var isASCIIAlphanumeric: Bool { isASCIILetter || isASCIIDigit }
    /// Letters, digits and `_`: the characters of an identifier in every language we scan.
    @inline(__always) var isIdentifierByte: Bool { isASCIIAlphanumeric || self == UInt8(ascii: "_") }
    @inline(__always) var isHexDigit: Bool { isASCIIDigit || (self | 0x20) &- 0x61 < 6 }
    @inline(__always) var isSpaceOrTab: Bool { self == 0x20 || self == 0x09 }
    @inline(__always) var asciiLowercased: UInt8 { isASCIIUpper ? self | 0x20 : self }
    /// Characters of base64 / base64url alphabets and of most token formats.
    @inline(__always) var isTokenByte: Bool {
        isASCIIAlphanumeric || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}

/// A byte string written as a literal in rule code, compared with `==` to a slice of a line.
struct Needle: Sendable, ExpressibleByStringLiteral {
    let bytes: [UInt8]

    init(stringLiteral value: String) { bytes = Array(value.utf8) }
    init(_ value: String) { bytes = Array(value.utf8) }

    var count: Int { bytes.count }
}

extension Array where Element == UInt8 {
    /// The first index at or after `start` where `needle` occurs, or nil.
    @inline(__always)
    func find(_ needle: Needle, from start: Int = 0) -> Int? {
        find(needle.bytes, from: start)
    }

    func find(_ needle: [UInt8], from start: Int = 0, until end: Int? = nil) -> Int? {
        let limit = Swift.min(end ?? count, count)
        let n = needle.count
        guard n > 0, start >= 0, limit - start >= n else { return nil }
        return withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                let first = pin[0]
                var i = start
                let last = limit - n
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < n && hay[i + j] == pin[j] { j += 1 }
                        if j == n { return i }
                    }
                    i += 1
                }
                return nil
            }
        }
    }

    /// Whether `needle` occurs anywhere in the array.
    @inline(__always)
    func has(_ needle: Needle) -> Bool { find(needle.bytes) != nil }

    /// Whether any of `needles` occurs.
    func hasAny(_ needles: [Needle]) -> Bool {
        for needle in needles where find(needle.bytes) != nil { return true }
        return false
    }

    /// Whether `needle` occurs where neither neighbour is an identifier character.
    func hasWord(_ needle: Needle, until end: Int? = nil) -> Bool { findWord(needle, until: end) != nil }

    /// The first occurrence of `needle` not glued to identifier characters on either side.
    func findWord(_ needle: Needle, from start: Int = 0, until end: Int? = nil) -> Int? {
        var from = start
        while let i = find(needle.bytes, from: from, until: end) {
            let beforeOK = i == 0 || !self[i - 1].isIdentifierByte
            let after = i + needle.count
            let afterOK =
                after >= count || !self[after].isIdentifierByte
                || !(needle.bytes.last ?? 0).isIdentifierByte
            let startOK = !(needle.bytes.first ?? 0).isIdentifierByte || beforeOK
            if startOK && afterOK { return i }
            from = i + 1
        }
        return nil
    }

    /// Whether the bytes at `index` equal `needle`.
    func matches(_ needle: Needle, at index: Int) -> Bool {
        guard index >= 0, index + needle.count <= count else { return false }
        for k in 0..<needle.count where self[index + k] != needle.bytes[k] { return false }
        return true
    }

    /// The ASCII-lowercased copy of the bytes.
    var asciiLowercased: [UInt8] {
        var copy = self
        for i in copy.indices where copy[i].isASCIIUpper { copy[i] |= 0x20 }
        return copy
    }

    /// The index of the first byte at or after `index` that is not a space or tab.
    func skipSpaces(from index: Int) -> Int {
        var i = index
        while i < count && self[i].isSpaceOrTab { i += 1 }
        return i
    }

    /// The index of the last byte before `index` that is not a space or tab, or -1.
    func skipSpacesBackward(from index: Int) -> Int {
        var i = index
        while i >= 0 && self[i].isSpaceOrTab { i -= 1 }
        return i
    }

    /// The bytes in `range` decoded as UTF-8 (invalid sequences become U+FFFD).
    func string(_ range: Range<Int>) -> String {
        let clamped = range.clamped(to: 0..<count)
        return String(decoding: self[clamped], as: UTF8.self)
    }
}

/// Shannon entropy in bits per byte, the usual measure of how random a credential-like string looks.
func shannonEntropy<C: Collection>(_ bytes: C) -> Double where C.Element == UInt8 {
    guard !bytes.isEmpty else { return 0 }
    var counts = [Int](repeating: 0, count: 256)
    for b in bytes { counts[Int(b)] += 1 }
    let total = Double(bytes.count)
    var entropy = 0.0
    for c in counts where c > 0 {
        let p = Double(c) / total
        entropy -= p * log2Approx(p)
    }
    return entropy
}

/// log2 without Foundation: frexp-free series good to ~1e-9, enough for an entropy threshold.
private func log2Approx(_ x: Double) -> Double {
    // x in (0, 1]: scale into [1, 2) by powers of two, then use ln via atanh series.
    var value = x
    var exponent = 0.0
    while value < 1 { value *= 2; exponent -= 1 }
    while value >= 2 { value /= 2; exponent += 1 }
    let y = (value - 1) / (value + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    while k < 60 {
        sum += term / k
        term *= y2
        k += 2
    }
    let ln = 2 * sum
    return exponent + ln / 0.693_147_180_559_945_3
}
