import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw TestDatabaseError("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A stand-in for systemd's socket unit: holds a listening socket, starts queue-webhook on it as fd 3 (LISTEN_FDS),
/// and restarts it (SIGTERM, wait, start) while a client sends requests without pause. Prints a JSON line with how
/// many requests succeeded and failed and how long the old process took to exit.
let socketHolder = #"""
    import http.client, json, os, signal, socket, subprocess, sys, threading, time
    port, program = int(sys.argv[1]), sys.argv[2]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    os.dup2(listener.fileno(), 3)
    os.set_inheritable(3, True)
    def start():
        return subprocess.Popen(["sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=http exec "{program}"'],
                                pass_fds=[3], stdout=open(sys.argv[3], "ab"), stderr=subprocess.STDOUT)
    def ready():
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False
    results = {"ok": 0, "failed": 0, "errors": []}
    stop = False
    def client():
        while not stop:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                connection.close()
                results["ok" if response.status == 200 else "failed"] += 1
            except Exception as error:
                results["failed"] += 1
                results["errors"].append(repr(error))
    process = start()
    if not ready():
        sys.exit("queue-webhook did not become ready")
    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.5)
    begin = time.time()
    process.send_signal(signal.SIGTERM)
    status = process.wait()
    results["exit_seconds"] = time.time() - begin
    results["exit_status"] = status
    before = results["ok"]
    process = start()
    if not ready():
        sys.exit("queue-webhook did not become ready again")
    time.sleep(0.5)
    stop = True
    thread.join()
    results["after_restart"] = results["ok"] - before
    process.send_signal(signal.SIGTERM)
    process.wait()
    print(json.dumps(results))
    """#

@Suite("queue-webhook socket activation", .serialized)
struct SocketActivationTests {
    @Test(
        "on the socket systemd passes (systemd-socket-activate): started by the first connection, READY=1 and STATUS=")
    func socketActivated() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate") else {
            Issue.record("systemd-socket-activate is missing (Debian package systemd)")
            return
        }
        try await QueueFixture.with { fixture in
            let port = try freePort()
            let listener = try NotifyListener()
            let activator = try RunningProcess(
                "/usr/bin/systemd-socket-activate",
                [
                    "-l", "127.0.0.1:\(port)", "--fdname=http", "-E", "DATABASE_URL=\(try fixture.url)",
                    "-E", "GITHUB_WEBHOOK_SECRET=\(webhookSecret)", "-E", "LOG_FORMAT=logfmt",
                    "-E", "NOTIFY_SOCKET=\(listener.address)", "-E", "WATCHDOG_USEC=4000000",
                    TestProcesses.executable("queue-webhook"),
                ], environment: [:])
            defer { Task { await activator.stop() } }
            // Nothing runs until a connection arrives; systemd-socket-activate is listening meanwhile.
            let listening = await eventually(timeout: .seconds(30)) {
                activator.log.contains("Listening on 127.0.0.1:\(port)")
            }
            #expect(listening, "\(activator.log)")
            #expect(listener.notifications.isEmpty)
            // The first request waits in the socket's queue while queue-webhook starts, then is answered.
            let first = try await http("GET", "http://127.0.0.1:\(port)/healthz", timeout: 60)
            #expect(first.status == 200)
            let ready = try #require(await listener.first { $0.has("READY") }, "\(activator.log)")
            #expect(ready["STATUS"]?.contains("listening on 127.0.0.1:\(port)") == true, "\(ready)")
            #expect(activator.log.contains("serving on the socket systemd passed"), "\(activator.log)")
            let ping = try await http(
                "POST", "http://127.0.0.1:\(port)/webhooks/github",
                headers: [
                    "X-GitHub-Event": "ping", "X-GitHub-Delivery": "sa-1",
                    "X-Hub-Signature-256": signature(
                        try Deliveries.body("ping", "payload.json"), secret: webhookSecret),
                ], body: try Deliveries.body("ping", "payload.json"))
            #expect(ping.status == 200 && ping.json["status"] as? String == "pong")
            // The watchdog is petted while the database answers.
            #expect(await listener.first(after: ready) { $0.has("WATCHDOG") } != nil)
            activator.send(SIGTERM)
            #expect(await listener.first(after: ready) { $0.has("STOPPING") } != nil, "\(activator.log)")
        }
    }

    @Test("a restart on the held socket loses no request: connections wait in the queue meanwhile")
    func restartDropsNothing() async throws {
        try await QueueFixture.with { fixture in
            let directory = NSTemporaryDirectory() + "aq-holder-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try socketHolder.write(toFile: directory + "/holder.py", atomically: true, encoding: .utf8)
            let result = try await TestProcesses.run(
                "/usr/bin/env",
                [
                    "python3", directory + "/holder.py", "\(try freePort())", TestProcesses.executable("queue-webhook"),
                    directory + "/webhook.log",
                ],
                environment: [
                    "DATABASE_URL": try fixture.url, "GITHUB_WEBHOOK_SECRET": webhookSecret, "LOG_FORMAT": "logfmt",
                ], timeout: .seconds(240))
            let log = (try? String(contentsOfFile: directory + "/webhook.log", encoding: .utf8)) ?? ""
            #expect(result.status == 0, "\(result.standardError) \(log.suffix(2000))")
            let figures = try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                "\(result.standardOutput)")
            #expect(figures["failed"] as? Int == 0, "\(figures)")
            #expect((figures["ok"] as? Int ?? 0) > 0 && (figures["after_restart"] as? Int ?? 0) > 0, "\(figures)")
            #expect(figures["exit_status"] as? Int == 0, "\(figures)")
            print("restart on a held socket: \(figures)")
        }
    }
}
