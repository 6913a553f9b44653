/// What a path says about a file: test, lockfile, generated, migration, manifest.
struct PathTraits: Sendable {
    let isTest: Bool
    let isLockfile: Bool
    let isGenerated: Bool
    let isMigration: Bool
    let isDocumentation: Bool
    /// Scripts, command-line entry points, examples: places where printing to stdout is normal.
    let isCommandLine: Bool
    /// Handlers, views, controllers, routes: code on a request path.
    let isRequestPath: Bool
    let manifest: Manifest?

    enum Manifest: String, Sendable {
        case swiftPackage, npm, goModule, pipRequirements, pipProject, pipfile, gemfile, cargo, maven, gradle

        /// The lockfile names that pin this manifest's dependencies; empty when none is customary.
        var lockfiles: [String] {
            switch self {
            case .swiftPackage: []  // Libraries commonly keep Package.resolved out of git.
            case .npm:
                ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "bun.lockb", "bun.lock"]
            case .goModule: ["go.sum"]
            case .pipRequirements: []  // A requirements file is its own pin list.
            case .pipProject: ["poetry.lock", "uv.lock", "pdm.lock"]
            case .pipfile: ["Pipfile.lock"]
            case .gemfile: ["Gemfile.lock"]
            case .cargo: ["Cargo.lock"]
            case .maven, .gradle: []
            }
        }
    }

    static let lockfileNames: Set<String> = [
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "bun.lockb", "bun.lock",
        "go.sum", "poetry.lock", "uv.lock", "pdm.lock", "pipfile.lock", "gemfile.lock", "cargo.lock",
        "package.resolved", "composer.lock", "podfile.lock", "mix.lock", "flake.lock", "gradle.lockfile",
    ]

    init(path: String) {
        let lower = path.lowercased()
        let components = lower.split(separator: "/").map(String.init)
        let name = components.last ?? lower
        let directories = components.dropLast()

        let testDirectories: Set<String> = [
            "test", "tests", "spec", "specs", "__tests__", "testdata", "fixtures", "e2e",
        ]
        isTest =
            directories.contains(where: { testDirectories.contains($0) || $0.hasSuffix("tests") })
            || name.hasPrefix("test_") || name.hasSuffix("_test.py") || name.hasSuffix("_test.go")
            || name.contains(".test.") || name.contains(".spec.") || name.hasSuffix("tests.swift")
            || name.hasSuffix("test.swift") || name.hasSuffix("test.java") || name.hasSuffix("tests.java")
            || name.hasSuffix("_spec.rb") || name.hasSuffix("_test.rb") || name.hasSuffix("test.kt")
            || name == "conftest.py"

        isLockfile = Self.lockfileNames.contains(name)
        isGenerated =
            name.hasSuffix(".min.js") || name.hasSuffix(".min.css") || name.hasSuffix(".pb.go")
            || name.hasSuffix(".pb.swift") || name.hasSuffix("_pb2.py") || name.hasSuffix(".generated.swift")
            || name.hasSuffix(".g.dart") || name.hasSuffix(".map") || name.hasSuffix(".snap")
            || directories.contains(where: {
                ["vendor", "node_modules", "dist", "generated", "third_party", ".build"].contains($0)
            })
        isMigration =
            directories.contains(where: { $0.contains("migration") || $0 == "migrate" || $0 == "schema" })
            || name.contains("migration") || (name.hasSuffix(".sql") && name.first?.isNumber == true)
        isDocumentation =
            name.hasSuffix(".md") || name.hasSuffix(".rst") || name.hasSuffix(".adoc")
            || name.hasSuffix(".txt")
                && !name.hasPrefix("requirements")
        let commandLineDirectories: Set<String> = [
            "scripts", "script", "bin", "cmd", "cli", "tools", "tool", "examples", "example", "demo", "demos",
            "benchmarks", "bench", "samples", "docs", "management", "commands", "tasks",
        ]
        isCommandLine =
            directories.contains(where: {
                commandLineDirectories.contains($0) || $0.hasSuffix("ctl") || $0.hasSuffix("-cli")
                    || $0.hasSuffix("-bench")
            })
            || ["main.swift", "main.go", "__main__.py", "manage.py", "setup.py", "cli.py", "main.py"].contains(name)
            || name.hasSuffix(".sh") || name.hasSuffix("command.swift")
        let requestWords = ["view", "controller", "handler", "route", "api", "endpoint", "resource", "server", "web"]
        isRequestPath = components.contains(where: { part in requestWords.contains(where: { part.contains($0) }) })

        switch name {
        case "package.swift": manifest = .swiftPackage
        case "package.json": manifest = .npm
        case "go.mod": manifest = .goModule
        case "pyproject.toml": manifest = .pipProject
        case "pipfile": manifest = .pipfile
        case "gemfile": manifest = .gemfile
        case "cargo.toml": manifest = .cargo
        case "pom.xml": manifest = .maven
        case "build.gradle", "build.gradle.kts": manifest = .gradle
        default:
            if name.hasPrefix("requirements") && name.hasSuffix(".txt") {
                manifest = .pipRequirements
            } else {
                manifest = nil
            }
        }
    }
}
