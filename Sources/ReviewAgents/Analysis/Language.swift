/// The language of a file, guessed from its name; rules use it to pick what to look for.
public enum Language: String, Sendable, Hashable, Codable, CaseIterable {
    case python, javascript, typescript, go, java, kotlin, ruby, swift, shell, sql
    case yaml, json, toml, env, xml, html, markdown, dockerfile, c, cpp, csharp, rust, php
    case other

    /// Guesses the language of `path` from its file name and extension.
    public init(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let lower = name.lowercased()
        switch lower {
        case "dockerfile", "containerfile": self = .dockerfile; return
        case "gemfile", "rakefile", "podfile", "fastfile", "vagrantfile", "guardfile": self = .ruby; return
        case ".env": self = .env; return
        case "makefile", "gnumakefile": self = .shell; return
        case "jenkinsfile": self = .other; return
        default: break
        }
        if lower.hasPrefix(".env.") || lower.hasSuffix(".env") { self = .env; return }
        if lower.hasPrefix("dockerfile.") || lower.hasSuffix(".dockerfile") { self = .dockerfile; return }
        guard let dot = lower.lastIndex(of: "."), dot != lower.startIndex else { self = .other; return }
        let ext = lower[lower.index(after: dot)...]
        switch ext {
        case "py", "pyi", "pyw": self = .python
        case "js", "mjs", "cjs", "jsx": self = .javascript
        case "ts", "tsx", "mts", "cts": self = .typescript
        case "go": self = .go
        case "java": self = .java
        case "kt", "kts", "scala", "groovy", "gradle": self = .kotlin
        case "rb", "rake", "gemspec", "ru": self = .ruby
        case "swift": self = .swift
        case "sh", "bash", "zsh", "ksh", "bats": self = .shell
        case "sql", "psql", "pgsql", "ddl": self = .sql
        case "yml", "yaml": self = .yaml
        case "json", "jsonc", "json5": self = .json
        case "toml": self = .toml
        case "xml", "plist", "csproj", "xsd", "pom": self = .xml
        case "html", "htm", "erb", "jinja", "jinja2", "j2", "vue", "leaf", "hbs", "mustache", "ejs", "svelte",
            "twig", "liquid":
            self = .html
        case "md", "markdown", "rst", "txt", "adoc": self = .markdown
        case "c", "h": self = .c
        case "cc", "cpp", "cxx", "hpp", "hh", "hxx", "m", "mm": self = .cpp
        case "cs": self = .csharp
        case "rs": self = .rust
        case "php": self = .php
        case "properties", "ini", "cfg", "conf": self = .env
        default: self = .other
        }
    }

    /// Whether the language is a programming language whose code the agents judge.
    public var isCode: Bool {
        switch self {
        case .python, .javascript, .typescript, .go, .java, .kotlin, .ruby, .swift, .shell, .c, .cpp, .csharp,
            .rust, .php:
            true
        default: false
        }
    }

    /// Whether the language is JavaScript or TypeScript.
    var isJavaScriptLike: Bool { self == .javascript || self == .typescript }

    var usesHashComments: Bool {
        switch self {
        case .python, .ruby, .shell, .yaml, .toml, .env, .dockerfile: true
        case .php: true
        default: false
        }
    }

    var usesSlashComments: Bool {
        switch self {
        case .javascript, .typescript, .go, .java, .kotlin, .swift, .c, .cpp, .csharp, .rust, .php: true
        default: false
        }
    }

    var usesDashComments: Bool { self == .sql }
}
