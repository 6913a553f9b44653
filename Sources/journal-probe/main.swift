// A small program that exercises the Systemd module against a real journald and a real service manager.
//
//   journal-probe log [--format auto|journal|logfmt|json] [--run NAME]
//       Logs a fixed set of entries (see scripts/test-journald.sh, which reads them back with journalctl).
//       --run adds `probe.run=NAME` (PROBE_RUN in the journal) to every entry.
//   journal-probe serve [--format auto|journal|logfmt|json] [--run NAME]
//       A Type=notify service stand-in: READY=1, watchdog pets at half of WatchdogSec, RELOADING=1/READY=1
//       on SIGHUP, STOPPING=1 and exit 0 on SIGTERM or SIGINT.

internal import Glibc
internal import Logging
internal import Systemd

func usage() -> Never {
    let text = "usage: journal-probe log|serve [--format auto|journal|logfmt|json] [--run NAME]\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(64)  // EX_USAGE
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first, mode == "log" || mode == "serve" else { usage() }
var format = LogFormat.journal
if let index = arguments.firstIndex(of: "--format") {
    guard index + 1 < arguments.count, let requested = LogFormat(rawValue: arguments[index + 1]) else { usage() }
    format = requested
}
var run: String?
if let index = arguments.firstIndex(of: "--run") {
    guard index + 1 < arguments.count else { usage() }
    run = arguments[index + 1]
}

func logFixedEntries(_ logger: Logger, level logLevel: LogLevelSetting) {
    logger.debug("hidden before reload")
    logger.info(
        "task claimed",
        metadata: ["task.id": "42", "agent": "security", "pg.sqlstate": "40001", "attempt": "\(1)"]
    )
    logger.warning("two\nlines", metadata: ["task.id": "42", "pg": ["sqlstate": "57P01"]])
    logger.error(
        "odd keys",
        metadata: [
            "task.id": "43",
            "message": "not the message",
            "_hidden": "x",
            "2fa": "y",
            "files": ["a.swift", "b.swift"],
            "über-key": "z",
        ]
    )
    logLevel.level = .debug
    logger.debug("shown after reload", metadata: ["task.id": "44"])
}

func serve(_ logger: Logger, format: LogFormat) -> Never {
    let notifier = SystemdNotifier()
    var signals = sigset_t()
    sigemptyset(&signals)
    for signal in [SIGTERM, SIGINT, SIGHUP] {
        sigaddset(&signals, signal)
    }
    pthread_sigmask(SIG_BLOCK, &signals, nil)

    let pet = notifier.watchdogInterval.map(Watchdog.petInterval(for:)) ?? .seconds(1)
    let (petSeconds, petAttoseconds) = pet.components
    var timeout = timespec(tv_sec: Int(petSeconds), tv_nsec: Int(petAttoseconds / 1_000_000_000))
    let watchdog = notifier.watchdogInterval.map { "\($0)" } ?? "off"
    logger.info("probe ready", metadata: ["format": "\(format)", "watchdog": "\(watchdog)"])
    notifier.ready(status: "probe serving")
    while true {
        let received = sigtimedwait(&signals, nil, &timeout)
        switch received {
        case SIGHUP:
            notifier.reloading(status: "probe reloading")
            logger.info("probe reloaded")
            notifier.ready(status: "probe serving (reloaded)")
        case SIGTERM, SIGINT:
            notifier.stopping(status: "probe stopping")
            logger.info("probe stopping", metadata: ["signal": "\(received)"])
            exit(0)
        default:
            notifier.watchdog()
        }
    }
}

let logLevel = LogLevelSetting(.info)
let logging = LogHandlerFactory(format: format, level: logLevel, syslogIdentifier: "journal-probe")
LoggingSystem.bootstrap(logging.makeHandler(label:metadataProvider:), metadataProvider: nil)
var logger = Logger(label: "probe")
if let run {
    logger[metadataKey: "probe.run"] = "\(run)"
}
if mode == "log" {
    logFixedEntries(logger, level: logLevel)
} else {
    serve(logger, format: logging.format)
}
