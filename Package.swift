// swift-tools-version:6.1
import PackageDescription

/// The strict settings every AgentQueue target is compiled with (see STYLE.md §4).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "agentqueue",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "queue-worker", targets: ["queue-worker"]),
        .executable(name: "queuectl", targets: ["queuectl"]),
        .executable(name: "queue-webhook", targets: ["queue-webhook"]),
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "TaskQueue", targets: ["TaskQueue"]),
        .library(name: "ReviewAgents", targets: ["ReviewAgents"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // queue-webhook's HTTP server (Hummingbird 2, on SwiftNIO; NIO itself to serve a socket systemd passes in).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // HMAC-SHA256 of webhook deliveries and the RS256 JWT of a GitHub App.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),

        // MARK: Libraries
        .target(
            name: "Digests",
            swiftSettings: strictSettings
        ),
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TaskQueue",
            dependencies: [
                "PostgresClient",
                "Digests",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedMigrations"]
        ),
        .target(
            name: "ReviewAgents",
            dependencies: [
                "Digests",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AgentGraph",
            dependencies: [
                "PostgresClient",
                "TaskQueue",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReviewStore",
            dependencies: [
                "PostgresClient",
                "TaskQueue",
                "ReviewAgents",
            ],
            swiftSettings: strictSettings
        ),
        // Where diffs come from: a unified diff, a range of a local git repository, a GitHub pull request.
        .target(
            name: "DiffSources",
            dependencies: ["ReviewAgents", "GitHubForge"],
            swiftSettings: strictSettings
        ),
        // The GitHub REST API (App or token authentication, rate limits) and webhook deliveries (signatures, events).
        .target(
            name: "GitHubForge",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Reading a daemon's settings (environment and settings file) with clear errors.
        .target(
            name: "DaemonConfiguration",
            dependencies: [
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // queue-webhook: GitHub deliveries in, reviews enqueued (HTTP server, socket activation, configuration).
        .target(
            name: "WebhookDaemon",
            dependencies: [
                "DaemonConfiguration",
                "DiffSources",
                "GitHubForge",
                "PostgresClient",
                "TaskQueue",
                "ReviewWorkflow",
                "Systemd",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReviewWorkflow",
            dependencies: [
                "AgentGraph",
                "DiffSources",
                "GitHubForge",
                "ReviewAgents",
                "ModelAgents",
                "ReviewStore",
                "TaskQueue",
                "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The optional model back-end of the agents (OpenAI-compatible chat completions; docs/models.md).
        .target(
            name: "ModelAgents",
            dependencies: [
                "ReviewAgents",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // queuectl's commands, output formats and console, testable in-process (the executable only runs them).
        .target(
            name: "QueueControl",
            dependencies: [
                "GitHubForge",
                "PostgresClient",
                "TaskQueue",
                "ReviewStore",
                "ReviewAgents",
                "ReviewWorkflow",
                "DiffSources",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Systemd",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "WorkerDaemon",
            dependencies: [
                "DaemonConfiguration",
                "DiffSources",
                "GitHubForge",
                "PostgresClient",
                "TaskQueue",
                "ReviewWorkflow",
                "ModelAgents",
                "Systemd",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Executables
        .executableTarget(
            name: "queuectl",
            dependencies: ["QueueControl"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "queue-worker",
            dependencies: [
                "WorkerDaemon",
                "TaskQueue",
                "DaemonConfiguration",
                "Systemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "queue-webhook",
            dependencies: [
                "WebhookDaemon",
                "TaskQueue",
                "Systemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Exercises Systemd against a real journald and service manager (scripts/test-journald.sh).
        .executableTarget(
            name: "journal-probe",
            dependencies: [
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Measures the diff parser and the four review agents (scripts/bench-agents.sh).
        .executableTarget(
            name: "agents-bench",
            dependencies: ["ReviewAgents"],
            swiftSettings: strictSettings
        ),

        // Drives the queue benchmark against a database with real workers and pgbench (scripts/bench.sh).
        .executableTarget(
            name: "aq-bench",
            dependencies: [
                "PostgresClient",
                "TaskQueue",
                "GitHubForge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Build tooling
        .executableTarget(
            name: "embed-migrations",
            path: "Plugins/EmbedMigrationsTool"
        ),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["embed-migrations"]
        ),

        // MARK: Tests
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TaskQueueTests",
            dependencies: ["TaskQueue", "PostgresClient", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkerDaemonTests",
            dependencies: [
                "WorkerDaemon", "DaemonConfiguration", "TaskQueue", "PostgresClient", "ModelAgents", "TestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReviewWorkflowTests",
            dependencies: [
                "ReviewWorkflow", "AgentGraph", "ReviewStore", "ReviewAgents", "DiffSources", "TaskQueue",
                "PostgresClient", "WorkerDaemon", "TestSupport",
            ],
            exclude: ["fake_github.py"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ForgeTests",
            dependencies: [
                "GitHubForge", "WebhookDaemon", "ReviewWorkflow", "ReviewAgents", "ReviewStore", "DiffSources",
                "TaskQueue",
                "PostgresClient", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // GitHub's example deliveries, read at run time.
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ModelAgentsTests",
            dependencies: [
                "ModelAgents",
                "ReviewAgents",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["fake_llm.py"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReviewAgentsTests",
            dependencies: ["ReviewAgents", "Digests"],
            // The SARIF schema and sample diffs are read by scripts/check-sarif.sh, not by the Swift tests.
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DiffSourcesTests",
            dependencies: ["DiffSources", "ReviewAgents"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SystemdTests",
            dependencies: [
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "QueuectlTests",
            dependencies: [
                "QueueControl", "TaskQueue", "ReviewStore", "ReviewWorkflow", "ReviewAgents", "DiffSources",
                "PostgresClient", "TestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "PostgresClient",
                "TaskQueue",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
    ]
)
