import Testing

@testable import ReviewAgents

@Suite("Repository configuration")
struct ConfigurationTests {
    static let sample = """
        version: 1
        agents:
          architecture: off
        rules:
          quality.todo-comment: off
          scale.select-star: high
          security.secret.*: { severity: critical }
          quality.long-line: { enabled: true, severity: info }
        ignore:
          - "vendor/**"
          - "*.generated.py"
        thresholds:
          line_length: 100
          function_lines: 40
          file_lines: 500
          change_lines: 2000
          modules: 8
        layers:
          - name: domain
            paths: ["Sources/Domain/**"]
            forbidden_imports: [PostgresClient, Vapor]
        """

    @Test("a full file parses into every setting")
    func parsesEverything() throws {
        let configuration = try RepositoryConfiguration.parse(yaml: Self.sample)
        #expect(configuration.disabledAgents == [.architecture])
        #expect(!configuration.isEnabled(rule: Rules.todoComment))
        #expect(!configuration.isEnabled(rule: Rules.largeChange))
        #expect(configuration.isEnabled(rule: Rules.longLine))
        #expect(configuration.severity(for: Rules.selectStar) == .high)
        #expect(configuration.severity(for: Rules.jwt) == .critical)
        #expect(configuration.severity(for: Rules.longLine) == .info)
        #expect(configuration.severity(for: Rules.sqlInjection) == .high)
        #expect(configuration.isIgnored(path: "vendor/lib/a.js"))
        #expect(configuration.isIgnored(path: "app/models.generated.py"))
        #expect(!configuration.isIgnored(path: "app/models.py"))
        #expect(
            configuration.thresholds
                == .init(lineLength: 100, functionLines: 40, fileLines: 500, changeLines: 2000, modules: 8))
        #expect(configuration.layers.first?.forbiddenImports == ["PostgresClient", "Vapor"])
    }

    @Test("an empty file is the default configuration")
    func empty() throws {
        #expect(try RepositoryConfiguration.parse(yaml: "") == .default)
        #expect(try RepositoryConfiguration.parse(yaml: "# nothing\n") == .default)
    }

    @Test(
        "invalid files are rejected with their line",
        arguments: [
            ("version: 1\nrulez:\n  a: off\n", ConfigurationError.Code.unknownKey, 2),
            ("rules:\n  quality.nope: off\n", .unknownRule, 2),
            ("rules:\n  quality.todo-comment: loud\n", .invalidValue, 2),
            ("thresholds:\n  line_length: -3\n", .invalidValue, 2),
            ("thresholds:\n  width: 3\n", .unknownKey, 2),
            ("agents:\n  style: off\n", .unknownKey, 2),
            ("layers:\n  - name: x\n", .invalidValue, 2),
            ("version: 2\n", .invalidValue, 1),
            ("rules: [unclosed\n", .syntax, 2),
            ("rules:\n\tbad: tab\n", .syntax, 2),
        ])
    func invalid(yaml: String, code: ConfigurationError.Code, line: Int) {
        do {
            _ = try RepositoryConfiguration.parse(yaml: yaml, source: "cfg.yml")
            Issue.record("expected an error for \(yaml)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.line == line, "\(error)")
            #expect(error.description.hasPrefix("cfg.yml:\(line)"))
        }
    }

    @Test("disabled rules, ignored paths and severity overrides apply to findings")
    func appliesToFindings() async throws {
        var builder = DiffBuilder()
        builder.newFile("src/app/x.py", ["# TODO: later", "q = \"SELECT * FROM t WHERE id = %s\""])
        builder.newFile("vendor/lib/y.py", ["q = \"SELECT * FROM t WHERE id = %s\""])
        let configuration = try RepositoryConfiguration.parse(yaml: Self.sample)
        let findings = try await review(builder.text, configuration: configuration)
        #expect(!findings.contains { $0.ruleId == "quality.todo-comment" })
        #expect(!findings.contains { $0.path.hasPrefix("vendor/") })
        #expect(!findings.contains { $0.agent == .architecture })
        let star = try #require(findings.first { $0.ruleId == "scale.select-star" })
        #expect(star.severity == .high)
    }

    @Test("inline agentqueue:ignore silences one line")
    func inlineSuppression() async throws {
        var builder = DiffBuilder()
        builder.newFile(
            "src/app/x.py",
            [
                "a = eval(x)  # agentqueue:ignore",
                "b = eval(y)  # agentqueue:ignore security.code-injection",
                "c = eval(z)  # agentqueue:ignore quality.*",
                "d = eval(w)",
            ])
        let findings = try await review(builder.text, agent: .security)
        #expect(findings.filter { $0.ruleId == "security.code-injection" }.compactMap(\.line) == [3, 4])
    }

    @Test(
        "path patterns",
        arguments: [
            ("vendor/**", "vendor/a/b.js", true),
            ("vendor/**", "src/vendor/a.js", false),
            ("**/vendor/**", "src/vendor/a.js", true),
            ("*.min.js", "web/app.min.js", true),
            ("src/*.py", "src/a.py", true),
            ("src/*.py", "src/sub/a.py", false),
            ("src/**/*.py", "src/a.py", true),
            ("src/**/*.py", "src/x/y/a.py", true),
            ("docs/", "docs/a/b.md", true),
            ("a?c.txt", "abc.txt", true),
            ("**/*.go", "xb", false),
            ("**/b", "xb", false),
        ])
    func patterns(pattern: String, path: String, matches: Bool) {
        #expect(PathPattern(pattern).matches(path) == matches)
    }
}
