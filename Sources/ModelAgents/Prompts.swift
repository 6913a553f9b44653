import ReviewAgents

/// The messages sent for one chunk: a system message with the agent's focus and the answer format, and a user
/// message with the change's file list and the chunk's hunks.
enum Prompts {
    /// What each agent looks for, in the words the prompt uses.
    static func focus(_ agent: AgentKind) -> String {
        switch agent {
        case .security:
            "security: injection (SQL, shell command, code, template, path traversal), broken authentication or "
                + "authorization checks, server-side request forgery, cross-site scripting, unsafe deserialization, "
                + "weak or misused cryptography, disabled TLS verification, sensitive data in logs or errors, and "
                + "unsafe defaults"
        case .scale:
            "scalability and performance: database queries in loops (N+1), unbounded queries, loops or memory growth "
                + "over external data, missing pagination, limits or timeouts, queries that need an index, migrations "
                + "that lock or rewrite large tables, blocking calls on request or async paths, and contention on "
                + "shared state"
        case .quality:
            "code quality and correctness: logic errors, unhandled errors and edge cases, resource leaks, race "
                + "conditions, dead or duplicated code, leftover debugging, misleading names or comments, and new "
                + "behaviour without tests"
        case .architecture:
            "architecture: layering and dependency direction, new or unnecessary dependencies, module boundaries and "
                + "coupling, responsibilities placed in the wrong component, public API changes, and duplication of "
                + "facilities the code base already has"
        }
    }

    /// The system message for `agent`.
    static func system(_ agent: AgentKind) -> String {
        """
        You are the \(agent.rawValue) reviewer of AgentQueue, an automated pull request review service. You review \
        one part of a pull request's diff at a time. Focus only on \(focus(agent)). Other reviewers cover other \
        concerns.

        Report only specific, real problems that the added lines (marked "+") introduce or make worse. Do not \
        report style preferences, praise, or summaries. If there is nothing to report, return an empty list.

        Each diff line is shown as a marker ("+" added, "-" removed, " " unchanged), the line's number in the new \
        version of the file, "|", and the line's text. Credentials were replaced by AgentQueue with a short prefix \
        followed by "****"; another scanner reports them, so do not report masked values.

        Answer with one JSON object and nothing else, in this form:
        {"findings": [{"rule_id": "sql-injection", "severity": "high", "path": "src/db.py", "line": 42, \
        "message": "What is wrong and why it matters.", "suggestion": "How to fix it."}]}
        - rule_id: a short lowercase kebab-case name for the kind of problem.
        - severity: one of "critical", "high", "medium", "low", "info".
        - path: the file's path exactly as written after "File:".
        - line: the number of an added ("+") line, or null for a problem about the whole file.
        - message: one or two sentences.
        - suggestion: how to fix it, or null.
        """
    }

    /// The user message for one chunk.
    static func user(summary: String, chunk: DiffChunk, index: Int, count: Int) -> String {
        var text = summary
        text += "\nDiff to review"
        if count > 1 { text += " (part \(index + 1) of \(count))" }
        text += ":\n\n"
        text += chunk.text
        return text
    }

    /// Both messages for one chunk.
    static func messages(agent: AgentKind, plan: ChunkPlan, index: Int) -> [ChatMessage] {
        let content = user(summary: plan.summary, chunk: plan.chunks[index], index: index, count: plan.chunks.count)
        return [ChatMessage(role: "system", content: system(agent)), ChatMessage(role: "user", content: content)]
    }
}
