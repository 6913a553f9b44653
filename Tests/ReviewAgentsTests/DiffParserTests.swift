import Testing

@testable import ReviewAgents

@Suite("Diff parser")
struct DiffParserTests {
    @Test("a modified file: paths, modes and line numbers on both sides")
    func modified() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/src/app.py b/src/app.py
            index 83db48f..bf269f4 100644
            --- a/src/app.py
            +++ b/src/app.py
            @@ -10,4 +10,5 @@ def main():
             a = 1
            -b = 2
            +b = 3
            +c = 4
             d = 5
             e = 6

            """)
        let file = try #require(diff.files.first)
        #expect(diff.files.count == 1)
        #expect(file.oldPath == "src/app.py" && file.newPath == "src/app.py")
        #expect(file.changeKind == .modified)
        #expect(file.oldMode == "100644" && file.newMode == "100644" && !file.hasModeChange)
        let hunk = try #require(file.hunks.first)
        #expect(hunk.section == "def main():")
        #expect(!hunk.isTruncated)
        #expect(hunk.lines.map(\.kind) == [.context, .removed, .added, .added, .context, .context])
        #expect(hunk.lines.map(\.oldLine) == [10, 11, nil, nil, 12, 13])
        #expect(hunk.lines.map(\.newLine) == [10, nil, 11, 12, 13, 14])
        #expect(hunk.lines[2].text == "b = 3")
        #expect(diff.additions == 2 && diff.deletions == 1)
    }

    @Test("new, deleted, renamed and copied files")
    func changeKinds() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/new.txt b/new.txt
            new file mode 100644
            index 0000000..e69de29
            --- /dev/null
            +++ b/new.txt
            @@ -0,0 +1,2 @@
            +one
            +two
            diff --git a/gone.txt b/gone.txt
            deleted file mode 100755
            index e69de29..0000000
            --- a/gone.txt
            +++ /dev/null
            @@ -1 +0,0 @@
            -bye
            diff --git a/old name.txt b/new name.txt
            similarity index 90%
            rename from old name.txt
            rename to new name.txt
            index 1111111..2222222 100644
            --- a/old name.txt
            +++ b/new name.txt
            @@ -1 +1 @@
            -x
            +y
            diff --git a/pure.txt b/moved/pure.txt
            similarity index 100%
            rename from pure.txt
            rename to moved/pure.txt
            diff --git a/base.c b/copy.c
            similarity index 100%
            copy from base.c
            copy to copy.c

            """)
        #expect(diff.files.map(\.changeKind) == [.added, .deleted, .renamed, .renamed, .copied])
        #expect(diff.files[0].oldPath == nil && diff.files[0].newPath == "new.txt" && diff.files[0].newMode == "100644")
        #expect(diff.files[0].hunks[0].lines.map(\.newLine) == [1, 2])
        #expect(diff.files[1].newPath == nil && diff.files[1].oldPath == "gone.txt" && diff.files[1].path == "gone.txt")
        #expect(diff.files[1].oldMode == "100755")
        #expect(diff.files[2].oldPath == "old name.txt" && diff.files[2].newPath == "new name.txt")
        #expect(diff.files[2].similarity == 90)
        #expect(
            diff.files[3].oldPath == "pure.txt" && diff.files[3].newPath == "moved/pure.txt"
                && diff.files[3].hunks.isEmpty)
        #expect(diff.files[4].oldPath == "base.c" && diff.files[4].newPath == "copy.c")
    }

    @Test("binary files, both the summary line and a GIT binary patch")
    func binary() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/logo.png b/logo.png
            new file mode 100644
            index 0000000..d0a1b2c
            Binary files /dev/null and b/logo.png differ
            diff --git a/icon.ico b/icon.ico
            index 1111111..2222222 100644
            GIT binary patch
            literal 12
            TcmZ?wbhEHbRA5kG;Nk!P

            literal 8
            PcmZ?wbhEHbRA5kG0

            diff --git a/a.txt b/a.txt
            index 1111111..2222222 100644
            --- a/a.txt
            +++ b/a.txt
            @@ -1 +1 @@
            -a
            +b

            """)
        #expect(diff.files.count == 3)
        #expect(diff.files[0].isBinary && diff.files[0].changeKind == .added && diff.files[0].hunks.isEmpty)
        #expect(diff.files[1].isBinary && diff.files[1].changeKind == .modified)
        #expect(!diff.files[2].isBinary && diff.files[2].additions == 1)
    }

    @Test("a mode change without content change")
    func modeChange() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/run.sh b/run.sh
            old mode 100644
            new mode 100755

            """)
        let file = try #require(diff.files.first)
        #expect(file.changeKind == .modified && file.hasModeChange)
        #expect(file.oldMode == "100644" && file.newMode == "100755")
    }

    @Test("no newline at end of file, on either side")
    func noNewline() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/a.txt b/a.txt
            index 1111111..2222222 100644
            --- a/a.txt
            +++ b/a.txt
            @@ -1,2 +1,2 @@
             keep
            -old
            \\ No newline at end of file
            +new
            \\ No newline at end of file

            """)
        let lines = try #require(diff.files.first?.hunks.first?.lines)
        #expect(lines.map(\.noNewlineAtEnd) == [false, true, true])
        #expect(lines.map(\.text) == ["keep", "old", "new"])
    }

    @Test("CRLF line ends are stripped from headers and content")
    func crlf() throws {
        let text =
            "diff --git a/w.txt b/w.txt\r\nindex 1..2 100644\r\n--- a/w.txt\r\n+++ b/w.txt\r\n"
            + "@@ -1 +1,2 @@\r\n-a\r\n+b\r\n+c\r\n"
        let diff = try DiffParser.parse(text)
        let file = try #require(diff.files.first)
        #expect(file.path == "w.txt")
        #expect(file.hunks[0].lines.map(\.text) == ["a", "b", "c"])
    }

    @Test("bytes that are not UTF-8 are replaced, not rejected")
    func nonUTF8() throws {
        var bytes = Array(
            "diff --git a/l.txt b/l.txt\nindex 1..2 100644\n--- a/l.txt\n+++ b/l.txt\n@@ -1 +1 @@\n-caf".utf8)
        bytes += [0xE9, 0x0A]
        bytes += Array("+caf".utf8) + [0xC3, 0xA9, 0xFF, 0xFE, 0x0A]
        let diff = try DiffParser.parse(bytes: bytes)
        let lines = try #require(diff.files.first?.hunks.first?.lines)
        #expect(lines[0].text == "caf\u{FFFD}")
        #expect(lines[1].text.hasPrefix("café"))
    }

    @Test("quoted paths with escapes and non-ASCII names")
    func quotedPaths() throws {
        let diff = try DiffParser.parse(
            """
            diff --git "a/dir/caf\\303\\251 \\"x\\".txt" "b/dir/caf\\303\\251 \\"x\\".txt"
            new file mode 100644
            index 0000000..1111111
            --- /dev/null
            +++ "b/dir/caf\\303\\251 \\"x\\".txt"
            @@ -0,0 +1 @@
            +hi

            """)
        #expect(diff.files.first?.newPath == "dir/café \"x\".txt")
    }

    @Test("plain diff -u output without git headers")
    func plainUnified() throws {
        let diff = try DiffParser.parse(
            """
            --- a/hello.c\t2024-01-01 10:00:00.000000000 +0000
            +++ b/hello.c\t2024-01-02 10:00:00.000000000 +0000
            @@ -1,3 +1,3 @@
             #include <stdio.h>
            -int main() { return 1; }
            +int main() { return 0; }
             /* end */
            --- a/other.c
            +++ b/other.c
            @@ -1 +1 @@
            -x
            +y

            """)
        #expect(diff.files.map(\.path) == ["hello.c", "other.c"])
        #expect(diff.files[0].additions == 1)
    }

    @Test("a git format-patch email: preamble and signature are skipped")
    func formatPatch() throws {
        let diff = try DiffParser.parse(
            """
            From 1234567890abcdef Mon Sep 17 00:00:00 2001
            From: Dev <dev@example.com>
            Subject: [PATCH] Fix

            ---
             a.txt | 2 +-
             1 file changed, 1 insertion(+), 1 deletion(-)

            diff --git a/a.txt b/a.txt
            index 1111111..2222222 100644
            --- a/a.txt
            +++ b/a.txt
            @@ -1 +1 @@
            -a
            +b
            --
            2.39.5

            """)
        #expect(diff.files.count == 1 && diff.files[0].additions == 1)
    }

    @Test("a hunk cut short by the end of the input is kept and marked truncated")
    func truncated() throws {
        let diff = try DiffParser.parse(
            """
            diff --git a/a.txt b/a.txt
            index 1..2 100644
            --- a/a.txt
            +++ b/a.txt
            @@ -1,5 +1,6 @@
             a
            +b
            """)
        let hunk = try #require(diff.files.first?.hunks.first)
        #expect(hunk.isTruncated && hunk.lines.count == 2)
    }

    @Test("an empty input is an empty diff")
    func empty() throws {
        #expect(try DiffParser.parse("").files.isEmpty)
        #expect(try DiffParser.parse("\n  \n").files.isEmpty)
    }

    @Test(
        "a diff that changes nothing is empty, and rejectingEmpty turns it into an error",
        arguments: [
            "",
            " \n\t\r\n\n",
            "diff --git a/a.txt b/a.txt\nindex 1111111..2222222 100644\n",
            "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n a\n b\n",
            "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -0,0 +0,0 @@\n",
        ])
    func emptyDiff(input: String) throws {
        #expect(try DiffParser.parse(input).isEmpty)
        for parse in [
            { try DiffParser.parse(input, rejectingEmpty: true) },
            { try DiffParser.parseCheckingCancellation(input, rejectingEmpty: true) },
        ] as [() throws -> ParsedDiff] {
            #expect {
                _ = try parse()
            } throws: { error in
                guard let error = error as? DiffParseError else { return false }
                return error.code == .emptyDiff && error.line == nil
                    && error.description == "the diff is empty: nothing to review"
            }
        }
    }

    @Test("a diff with any change is not empty, even without added or removed lines")
    func notEmpty() throws {
        let inputs = [
            "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
            "diff --git a/a b/b\nsimilarity index 100%\nrename from a\nrename to b\n",
            "diff --git a/e.txt b/e.txt\nnew file mode 100644\nindex 0000000..e69de29\n",
            "diff --git a/e.txt b/e.txt\ndeleted file mode 100644\nindex e69de29..0000000\n",
            "diff --git a/i.png b/i.png\nindex 1111111..2222222 100644\nBinary files a/i.png and b/i.png differ\n",
            "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,1 @@\n a\n-b\n",
        ]
        for input in inputs {
            let diff = try DiffParser.parse(input, rejectingEmpty: true)
            #expect(!diff.isEmpty)
        }
    }

    @Test(
        "malformed inputs raise a DiffParseError with a code and a line",
        arguments: [
            ("just some text\nnot a diff\n", DiffParseError.Code.notADiff, nil as Int?),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @ oops\n", .malformedHunkHeader, 4),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -x +1 @@\n", .malformedHunkHeader, 4),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n a\n?what\n", .unexpectedLine, 6),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n-a\n-b\n", .unexpectedLine, 6),
            ("@@ -1 +1 @@\n-a\n+b\n", .unexpectedLine, 1),
            ("diff --cc a.txt\nindex 1,2..3\n", .combinedDiff, 1),
        ])
    func malformed(input: String, code: DiffParseError.Code, line: Int?) {
        #expect {
            _ = try DiffParser.parse(input)
        } throws: { error in
            guard let error = error as? DiffParseError else { return false }
            return error.code == code && error.line == line && !error.description.isEmpty
        }
    }

    @Test(
        "a hunk line beyond the header's counts is an error, not dropped",
        arguments: [
            // header, body, the line of the surplus line
            ("@@ -1,2 +1,2 @@", " a\n-b\n+c\n+d\n", 8),
            ("@@ -1 +1 @@", "-a\n+b\n c\n", 7),
            ("@@ -1 +1 @@", "-a\n+b\n-c\n", 7),
            ("@@ -1 +1 @@", "-a\n+b\n\n\n+c\n", 9),
            ("@@ -1 +1 @@", "-a\n+b\n\\ No newline at end of file\n+c\n", 8),
            ("@@ -1 +1,2 @@", "-a\n-b\n", 6),
            ("@@ -0,0 +1 @@", "+a\n+b\n--- a/x\n", 6),
        ])
    func surplusLine(header: String, body: String, line: Int) {
        let input = "diff --git a/src/x.py b/src/x.py\n--- a/src/x.py\n+++ b/src/x.py\n\(header)\n\(body)"
        let counts = header.dropFirst(3).prefix { $0 != "@" }.split(separator: " ").map { part in
            part.contains(",") ? String(part) : part + "," + "1"
        }
        let expected =
            "invalid diff: hunk @@ \(counts.joined(separator: " ")) @@ of src/x.py has more lines than its header says "
            + "(line \(line))"
        #expect {
            _ = try DiffParser.parse(input)
        } throws: { error in
            guard let error = error as? DiffParseError else { return false }
            return error.code == .unexpectedLine && error.line == line && error.description == expected
        }
    }

    @Test("what git writes after a hunk is not a surplus line")
    func afterHunk() throws {
        let hunk = "diff --git a/a.txt b/a.txt\nindex 1..2 100644\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n"
        let inputs = [
            // git format-patch: the signature, with or without its trailing space.
            hunk + "-- \n2.39.5\n\n",
            hunk + "--\n2.39.5\n",
            // git log -p: a blank line, then the next commit with its indented message.
            hunk + "\ncommit 0123456789abcdef\nAuthor: A <a@example.com>\n\n    - fixed\n    + added\n",
            // Blank lines before the next file, and a plain diff header right after the hunk.
            hunk + "\n\n" + hunk,
            hunk + "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-x\n+y\n",
            hunk + "\\ No newline at end of file\n",
        ]
        for input in inputs {
            let diff = try DiffParser.parse(input)
            #expect(diff.files.first?.hunks.first?.lines.map(\.text) == ["a", "b"])
        }
    }

    @Test("an empty line inside a hunk is a context line whose leading space a tool stripped")
    func strippedContextLine() throws {
        let diff = try DiffParser.parse(
            "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n")
        let lines = try #require(diff.files.first?.hunks.first?.lines)
        #expect(lines.map(\.kind) == [.context, .context, .removed, .added])
        #expect(lines[1].text.isEmpty && lines[1].oldLine == 2 && lines[1].newLine == 2)
    }

    @Test("limits: input size and file count")
    func limits() throws {
        var builder = DiffBuilder()
        for index in 0..<5 { builder.newFile("f\(index).txt", ["x"]) }
        #expect(throws: DiffParseError.self) { try DiffParser.parse(builder.text, limits: DiffLimits(maxFiles: 4)) }
        #expect(try DiffParser.parse(builder.text, limits: DiffLimits(maxFiles: 5)).files.count == 5)
        do {
            _ = try DiffParser.parse(builder.text, limits: DiffLimits(maxBytes: 100))
            Issue.record("expected a size error")
        } catch {
            #expect(error.code == .inputTooLarge)
            #expect(error.description.contains("over the limit of 100 bytes"))
        }
    }

    @Test("the error message never quotes the diff")
    func safeDescription() {
        let secret = "hunter2-very-secret"
        do {
            _ = try DiffParser.parse("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n \(secret)\nzz\(secret)\n")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains(secret) && !error.debugDescription.contains(secret))
        }
    }

    @Test("the parsed diff round-trips through JSON")
    func codable() throws {
        var builder = DiffBuilder()
        builder.newFile("a.swift", ["let a = 1", "let b = 2"])
        let diff = try builder.parsed()
        let data = try JSONReportRenderer.encode(diff)
        #expect(data.contains("\"change_kind\" : \"added\""))
    }
}
