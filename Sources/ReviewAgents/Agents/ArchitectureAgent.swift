/// Looks at the shape of a change: new dependencies and missing lockfiles, imports that cross forbidden
/// layers or close a cycle, and changes too large or too spread out to review well.
public struct ArchitectureAgent: ReviewAgent {
    /// Always ``AgentKind/architecture``.
    public var kind: AgentKind { .architecture }

    /// Creates the agent.
    public init() {}

    /// Reviews manifests, imports and the overall size of the change.
    public func review(_ input: ReviewInput) async throws -> [Finding] {
        var collector = FindingCollector(agent: .architecture, configuration: input.configuration)
        let files = input.reviewableFiles
        try Task.checkCancellation()
        try dependencies(files, &collector)
        try layers(files, input.configuration.layers, &collector)
        try importCycles(files, &collector)
        size(files, input.configuration.thresholds, &collector)
        return collector.finish()
    }

    // MARK: Dependencies

    private func dependencies(_ files: [SourceFile], _ c: inout FindingCollector) throws {
        let changedPaths = Set(files.map(\.path))
        for file in files {
            guard let manifest = file.traits.manifest, !file.isBinary else { continue }
            var added: [(name: String, line: SourceLine)] = []
            for hunk in file.hunks {
                for (index, line) in hunk.enumerated() where line.isAdded {
                    try Task.checkCancellation()
                    if let name = DependencyParser.name(line, manifest: manifest, hunk: hunk, index: index) {
                        added.append((name, line))
                    }
                }
            }
            let removed = Set(file.removedLines.compactMap { DependencyParser.name(raw: $0, manifest: manifest) })
            var reported: Set<String> = []
            for (name, line) in added where !removed.contains(name) && !reported.contains(name) {
                reported.insert(name)
                c.add(
                    Rules.newDependency, file: file, line: line,
                    message: "New dependency `\(name)` in \(file.fileName).",
                    suggestion: "Check its licence, maintenance and size; prefer the standard library or an existing "
                        + "dependency when they already do the job.",
                    key: "dependency:" + name)
            }
            let dependencyLinesChanged = !added.isEmpty || !removed.isEmpty
            let lockfiles = manifest.lockfiles
            guard dependencyLinesChanged, !lockfiles.isEmpty, file.diff.changeKind != .deleted else { continue }
            let directory = file.directory
            let hasLockfile = lockfiles.contains { lock in
                changedPaths.contains(directory.isEmpty ? lock : directory + "/" + lock)
            }
            guard !hasLockfile else { continue }
            let first = added.first?.line ?? file.addedLines.first
            let message = "\(file.fileName) changes its dependencies but \(lockfiles[0]) is not in the change."
            let suggestion =
                "Regenerate and commit the lockfile with the manifest (\(lockfiles.joined(separator: ", ")))."
            if let first {
                c.add(
                    Rules.manifestWithoutLockfile, file: file, line: first, message: message, suggestion: suggestion,
                    key: "lockfile")
            } else {
                c.add(
                    Rules.manifestWithoutLockfile, path: file.path, line: nil, message: message, suggestion: suggestion,
                    key: "lockfile")
            }
        }
    }

    // MARK: Layers

    private func layers(
        _ files: [SourceFile], _ layers: [RepositoryConfiguration.LayerRule], _ c: inout FindingCollector
    ) throws {
        guard !layers.isEmpty else { return }
        for file in files where file.language.isCode {
            let applicable = layers.filter { layer in layer.paths.contains { $0.matches(file.path) } }
            guard !applicable.isEmpty else { continue }
            for line in file.addedLines where !line.isCommentOnly {
                try Task.checkCancellation()
                guard let module = ImportParser.imported(line, language: file.language) else { continue }
                let resolved = ImportParser.resolveRelative(module, from: file.directory)
                for layer in applicable {
                    guard
                        let rule = layer.forbiddenImports.first(where: {
                            Self.matches(module, resolved: resolved, rule: $0)
                        })
                    else { continue }
                    c.add(
                        Rules.layerViolation, file: file, line: line,
                        message: "Layer `\(layer.name)` must not import `\(rule)`, but this file imports `\(module)`.",
                        suggestion: "Depend on an abstraction owned by this layer, or move the code to a layer that "
                            + "may use `\(rule)`.")
                    break
                }
            }
        }
    }

    static func matches(_ module: String, resolved: String?, rule: String) -> Bool {
        let candidates = [module, module.replacingOccurrencesOfDots, resolved].compactMap { $0 }
        if rule.contains("*") {
            let pattern = PathPattern(rule)
            return candidates.contains { pattern.matches($0) }
        }
        return candidates.contains { candidate in
            candidate == rule || candidate.hasPrefix(rule + ".") || candidate.hasPrefix(rule + "/")
                || candidate.hasSuffix("/" + rule) || candidate.contains("/" + rule + "/")
        }
    }

    // MARK: Import cycles

    private func importCycles(_ files: [SourceFile], _ c: inout FindingCollector) throws {
        let codeFiles = files.filter { $0.language.isCode && !$0.isBinary }
        guard codeFiles.count >= 2 else { return }
        let modules = Set(codeFiles.map(Self.module(of:)))
        guard modules.count >= 2 else { return }
        struct Edge: Hashable { let from: String; let to: String }
        var edges: [String: Set<String>] = [:]
        var added: [(edge: Edge, file: SourceFile, line: SourceLine, imported: String)] = []
        for file in codeFiles {
            let from = Self.module(of: file)
            for hunk in file.hunks {
                for line in hunk where !line.isCommentOnly {
                    try Task.checkCancellation()
                    guard let imported = ImportParser.imported(line, language: file.language),
                        let to = Self.resolveModule(imported, from: file, modules: modules), to != from
                    else { continue }
                    edges[from, default: []].insert(to)
                    if line.isAdded { added.append((Edge(from: from, to: to), file, line, imported)) }
                }
            }
        }
        var reported: Set<Set<String>> = []
        for item in added {
            guard let path = Self.path(from: item.edge.to, to: item.edge.from, edges: edges) else { continue }
            let members = Set(path)
            guard !reported.contains(members) else { continue }
            reported.insert(members)
            let cycle = ([item.edge.from] + path).map { "`\($0)`" }.joined(separator: " → ")
            c.add(
                Rules.importCycle, file: item.file, line: item.line,
                message: "Importing `\(item.imported)` closes an import cycle: \(cycle).",
                suggestion: "Move what both modules need into a third module, or invert the dependency with a "
                    + "protocol/interface.",
                key: "cycle:" + members.sorted().joined(separator: ","))
        }
    }

    /// Breadth-first path from `start` to `goal` (both included).
    static func path(from start: String, to goal: String, edges: [String: Set<String>]) -> [String]? {
        var previous: [String: String] = [:]
        var queue = [start]
        var seen: Set<String> = [start]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            if node == goal {
                var path = [goal]
                var cursor = goal
                while let before = previous[cursor] {
                    path.append(before)
                    cursor = before
                }
                return path.reversed()
            }
            for next in (edges[node] ?? []).sorted() where !seen.contains(next) {
                seen.insert(next)
                previous[next] = node
                queue.append(next)
            }
        }
        return nil
    }

    /// A file's module: its Swift target (`Sources/X`) or otherwise its directory.
    static func module(of file: SourceFile) -> String {
        let parts = file.path.split(separator: "/")
        if file.language == .swift, parts.count >= 3, parts[0] == "Sources" || parts[0] == "Tests" {
            return String(parts[1])
        }
        return file.directory.isEmpty ? "." : file.directory
    }

    /// Maps an import to one of the changed modules, if it names one.
    static func resolveModule(_ imported: String, from file: SourceFile, modules: Set<String>) -> String? {
        if file.language == .swift { return modules.contains(imported) ? imported : nil }
        if let relative = ImportParser.resolveRelative(imported, from: file.directory) {
            if modules.contains(relative) { return relative }
            let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
            return modules.contains(parent) ? parent : nil
        }
        let slashed = imported.replacingOccurrencesOfDots
        var candidates = [slashed]
        if let cut = slashed.lastIndex(of: "/") { candidates.append(String(slashed[..<cut])) }
        for candidate in candidates where !candidate.isEmpty {
            for module in modules.sorted()
            where module == candidate || module.hasSuffix("/" + candidate)
                || (file.language == .go && candidate.hasSuffix("/" + module))
            {
                return module
            }
        }
        return nil
    }

    // MARK: Size and spread

    private func size(
        _ files: [SourceFile], _ thresholds: RepositoryConfiguration.Thresholds, _ c: inout FindingCollector
    ) {
        let counted = files.filter { !$0.traits.isLockfile && !$0.traits.isGenerated }
        let changed = counted.reduce(0) { $0 + $1.addedCount + $1.removedLines.count }
        if changed > thresholds.changeLines {
            c.add(
                Rules.largeChange, path: "", line: nil,
                message: "The change adds or removes \(changed) lines in \(counted.count) files (limit "
                    + "\(thresholds.changeLines), lockfiles and generated files excluded).",
                suggestion: "Split it into smaller changes that can be reviewed and reverted on their own.",
                key: "large-change")
        }
        let modules = Set(counted.map { Self.topLevelModule($0.path) })
        if modules.count > thresholds.modules {
            let names = modules.sorted().prefix(8).map { "`\($0)`" }.joined(separator: ", ")
            c.add(
                Rules.wideChange, path: "", line: nil,
                message: "The change touches \(modules.count) top-level modules (limit \(thresholds.modules)): "
                    + "\(names)\(modules.count > 8 ? ", …" : "").",
                suggestion: "Split it by module, or explain in the description why they must change together.",
                key: "wide-change")
        }
    }

    static let containers: Set<String> = [
        "Sources", "Tests", "src", "lib", "libs", "packages", "apps", "services", "cmd", "internal", "pkg", "modules",
        "crates", "components", "plugins", "app",
    ]

    static func topLevelModule(_ path: String) -> String {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 2 else { return "(root)" }
        if containers.contains(parts[0]) && parts.count >= 3 { return parts[0] + "/" + parts[1] }
        return parts[0]
    }
}

extension String {
    var replacingOccurrencesOfDots: String { String(map { $0 == "." ? "/" : $0 }) }
}

/// Recognises dependency declarations in manifests.
enum DependencyParser {
    static func name(raw: [UInt8], manifest: PathTraits.Manifest) -> String? {
        var lexer = LineLexer(language: language(of: manifest))
        let line = lexer.lex(raw, number: 0, isAdded: true)
        return name(line, manifest: manifest, hunk: nil, index: 0)
    }

    static func language(of manifest: PathTraits.Manifest) -> Language {
        switch manifest {
        case .swiftPackage: .swift
        case .npm: .json
        case .goModule: .go
        case .pipRequirements: .other
        case .pipProject, .pipfile, .cargo: .toml
        case .gemfile: .ruby
        case .maven: .xml
        case .gradle: .kotlin
        }
    }

    /// The dependency a manifest line declares, if it declares one.
    static func name(_ line: SourceLine, manifest: PathTraits.Manifest, hunk: [SourceLine]?, index: Int) -> String? {
        let raw = line.raw
        let start = raw.skipSpaces(from: 0)
        guard start < raw.count else { return nil }
        switch manifest {
        case .swiftPackage:
            guard line.code.has(".package(") else { return nil }
            guard let literal = line.literals.first else { return nil }
            var value = line.content(of: literal).string
            if value.hasSuffix(".git") { value.removeLast(4) }
            return value.split(separator: "/").last.map(String.init)
        case .npm:
            guard line.literals.count >= 2 else { return nil }
            let version = line.content(of: line.literals[1])
            guard let first = version.first,
                first.isASCIIDigit || "^~<>=*".utf8.contains(first) || version.starts(with: Array("workspace:".utf8))
                    || version.starts(with: Array("npm:".utf8)) || version.starts(with: Array("git".utf8))
                    || version.starts(with: Array("file:".utf8)) || version.starts(with: Array("latest".utf8))
            else { return nil }
            if let hunk {
                guard let parent = parentLine(of: index, in: hunk), parent.raw.asciiLowercased.has("dependencies\"")
                else {
                    return nil
                }
            }
            return line.content(of: line.literals[0]).string
        case .goModule:
            let parts = line.code.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map {
                String(decoding: $0, as: UTF8.self)
            }
            var tokens = parts
            if tokens.first == "require" { tokens.removeFirst() }
            guard tokens.count >= 2, tokens[0].contains("."), tokens[1].hasPrefix("v"),
                !raw.has("// indirect") || hunk == nil
            else { return nil }
            return tokens[0]
        case .pipRequirements:
            guard raw[start] != UInt8(ascii: "#"), raw[start] != UInt8(ascii: "-") else { return nil }
            var end = start
            while end < raw.count && (raw[end].isTokenByte || raw[end] == UInt8(ascii: ".")) { end += 1 }
            return end > start ? raw.string(start..<end).lowercased() : nil
        case .pipProject, .pipfile, .cargo:
            if manifest == .pipProject, let literal = line.literals.first, literal.start == start {
                // dependencies = [ "requests>=2", ... ] entries.
                let content = line.content(of: literal)
                var end = content.startIndex
                while end < content.endIndex && (content[end].isTokenByte || content[end] == UInt8(ascii: ".")) {
                    end += 1
                }
                guard end > content.startIndex, end < content.endIndex || content.count > 0 else { return nil }
                let rest = content[end...]
                guard rest.isEmpty || "<>=~![; @".utf8.contains(rest.first!) else { return nil }
                return String(decoding: content[content.startIndex..<end], as: UTF8.self).lowercased()
            }
            guard let equals = line.code.find(" = ") ?? line.code.find("=") else { return nil }
            let key = raw.string(start..<equals).trimmingSpaces.filter { $0 != "\"" }
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." })
            else {
                return nil
            }
            if let hunk {
                guard let section = tomlSection(before: index, in: hunk),
                    section.contains("dependencies")
                        || section.contains("packages") || section == "[requires]"
                else { return nil }
            }
            if ["version", "python", "name", "edition", "description", "authors", "license", "readme"].contains(key),
                manifest != .pipfile
            {
                return nil
            }
            return key.lowercased()
        case .gemfile:
            guard line.code.matches("gem ", at: start) || line.code.matches("gem(", at: start),
                let literal = line.literals.first
            else { return nil }
            return line.content(of: literal).string
        case .maven:
            guard let open = raw.find("<artifactId>"), let close = raw.find("</artifactId>") else { return nil }
            if let hunk {
                let window = hunk[max(0, index - 4)..<index]
                guard window.contains(where: { $0.raw.has("<dependency>") || $0.raw.has("<groupId>") }) else {
                    return nil
                }
                guard window.contains(where: { $0.raw.has("<dependency>") }) else { return nil }
            }
            return raw.string((open + 12)..<close)
        case .gradle:
            let configurations: [Needle] = [
                "implementation", "api", "testImplementation", "compileOnly", "runtimeOnly",
                "kapt", "ksp", "annotationProcessor", "testRuntimeOnly",
            ]
            guard configurations.contains(where: { line.code.matches($0, at: start) }),
                let literal = line.literals.first
            else { return nil }
            let parts = line.content(of: literal).string.split(separator: ":")
            return parts.count >= 2 ? parts[0] + ":" + parts[1] : nil
        }
    }

    /// The nearest line above with a smaller indent (the JSON object that holds this key).
    static func parentLine(of index: Int, in hunk: [SourceLine]) -> SourceLine? {
        let indent = hunk[index].indent
        var k = index - 1
        while k >= 0 {
            if !hunk[k].isBlank && hunk[k].indent < indent { return hunk[k] }
            k -= 1
        }
        return nil
    }

    static func tomlSection(before index: Int, in hunk: [SourceLine]) -> String? {
        var k = index
        while k >= 0 {
            let raw = hunk[k].raw
            let start = raw.skipSpaces(from: 0)
            if start < raw.count && raw[start] == UInt8(ascii: "[") {
                return raw.string(start..<raw.count).lowercased()
            }
            k -= 1
        }
        return nil
    }
}
