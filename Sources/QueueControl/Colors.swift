/// Colour on a terminal: `--color auto|always|never` (any command; default auto) and the `NO_COLOR` convention.
///
/// Colour marks meaning, never carries it alone: the words stay (`dead`, `high`, `changes_requested`), so output
/// without colour says the same.
enum ColorChoice: String, CaseIterable, Sendable {
    case auto, always, never

    /// The choice of the running command (``QueueCtl/run(_:)`` sets it from `--color`).
    @TaskLocal static var current = ColorChoice.auto

    /// Takes `--color WHEN` / `--color=WHEN` out of the arguments (before `--`), wherever it stands.
    static func extract(from arguments: [String]) -> Result<(ColorChoice?, [String]), CLIFailure> {
        var rest: [String] = []
        var choice: ColorChoice?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                rest += arguments[index...]
                break
            }
            var value: String?
            if argument == "--color" {
                guard index + 1 < arguments.count else {
                    return .failure(CLIFailure("--color needs a value: auto, always or never", exitCode: CLIExit.usage))
                }
                value = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--color=") {
                value = String(argument.dropFirst("--color=".count))
            }
            if let value {
                guard let parsed = ColorChoice(rawValue: value) else {
                    return .failure(
                        CLIFailure("--color must be auto, always or never (got '\(value)')", exitCode: CLIExit.usage))
                }
                choice = parsed
            } else {
                rest.append(argument)
            }
            index += 1
        }
        return .success((choice, rest))
    }
}

/// ANSI colours for the words queuectl prints: task states, verdicts and severities.
enum Palette {
    /// Whether standard output gets colour: `--color always`, or `auto` on a terminal without `NO_COLOR` (set and
    /// not empty) and with a `TERM` other than `dumb`.
    static var enabled: Bool {
        switch ColorChoice.current {
        case .always: return true
        case .never: return false
        case .auto:
            guard Terminal.isTerminal(1) else { return false }
            if let noColor = environment("NO_COLOR"), !noColor.isEmpty { return false }
            return environment("TERM") != "dumb"
        }
    }

    private static let codes: [String: String] = [
        // Severities.
        "critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2",
        // Verdicts (both spellings).
        "approved": "32", "approved_with_comments": "33", "changes_requested": "31",
        "approved with comments": "33", "changes requested": "31",
        // Task states and worker states.
        "succeeded": "32", "running": "36", "dead": "31", "cancelled": "2", "lost": "31", "stopped": "2",
        "draining": "33",
    ]

    /// `word` in its colour, when colour is on and the word has one.
    static func paint(_ word: String) -> String {
        guard enabled, let code = codes[word] else { return word }
        return "\u{1B}[\(code)m\(word)\u{1B}[0m"
    }

    /// A table cell with its first word (up to a space) painted: `dead`, `changes_requested · 3 findings`.
    static func paintLeadingWord(_ cell: String) -> String {
        guard enabled else { return cell }
        let end = cell.firstIndex(of: " ") ?? cell.endIndex
        return paint(String(cell[..<end])) + cell[end...]
    }
}
