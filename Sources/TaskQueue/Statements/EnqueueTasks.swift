public import PostgresClient

/// `enqueue_tasks(...)`: enqueues many tasks in one statement, all or nothing. Results are in the order of the tasks.
public struct EnqueueTasks: PostgresStatement {
    /// The tasks, each already validated.
    public let tasks: [NewTask]

    /// Enqueues `tasks`, after checking each (``NewTask/validate()``); the error names the task of the batch.
    public init(_ tasks: [NewTask]) throws(TaskValidationError) {
        for (index, task) in tasks.enumerated() {
            do {
                try task.validate()
            } catch {
                throw TaskValidationError("task \(index + 1) of the batch: \(error.description)")
            }
        }
        self.tasks = tasks
    }

    /// An empty batch sends nothing: run it only when ``tasks`` is not empty.
    public var query: PostgresQuery {
        "SELECT ordinal, id, deduplicated FROM enqueue_tasks(\(Self.document(tasks))::jsonb)"
    }

    public func decode(_ rows: PostgresRows) throws -> [EnqueueResult] {
        guard rows.count == tasks.count else {
            throw PostgresError.unexpectedResult("enqueue_tasks returned \(rows.count) rows for \(tasks.count) tasks")
        }
        return try rows.map { row in
            EnqueueResult(id: try row.decode(Int64.self, "id"), deduplicated: try row.decode(Bool.self, "deduplicated"))
        }
    }

    /// The JSON array `enqueue_tasks` takes. Payloads are already JSON text and are embedded as they are.
    static func document(_ tasks: [NewTask]) -> PostgresJSON {
        var text = "["
        text.reserveCapacity(tasks.reduce(2) { $0 + $1.payload.text.utf8.count + 96 })
        for (index, task) in tasks.enumerated() {
            if index > 0 { text += "," }
            text +=
                "{\"kind\":\(jsonString(task.kind)),\"queue\":\(jsonString(task.queue)),\"payload\":\(task.payload.text)"
            text += ",\"priority\":\(task.priority),\"max_attempts\":\(task.maxAttempts)"
            if let runAfter = task.runAfter, let value = runAfter.postgresText {
                text += ",\"run_after\":\(jsonString(value))"
            }
            if let dedupeKey = task.dedupeKey { text += ",\"dedupe_key\":\(jsonString(dedupeKey))" }
            text += "}"
        }
        return PostgresJSON(text: text + "]")
    }
}

/// A JSON string literal for `value`.
func jsonString(_ value: String) -> String {
    var text = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": text += "\\\""
        case "\\": text += "\\\\"
        case "\n": text += "\\n"
        case "\r": text += "\\r"
        case "\t": text += "\\t"
        case let control where control.value < 0x20:
            let hex = String(control.value, radix: 16)
            text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: text.unicodeScalars.append(scalar)
        }
    }
    return text + "\""
}
