"""seqattn translate - on careless and hostile stdin (issue 13): outputs in the
input's order and the same as each line translated alone, however the lines
are batched; a line over the 4096-byte bound, a NUL byte, or an attention map
past its bound refused by name, with exit status 1 and nothing on stdout.

usage: test_cli_stdin.py PATH/TO/seqattn   (standard-library Python only)
"""
import subprocess
import sys

CLI = sys.argv[1]
failures = []


def run(args, stdin=b""):
    p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


SHORT = ["21 Nov 2026", "November 21, 2026", "3/4/1999", "Saturday, 5 October 2024",
         "1900-01-01", "", "JUL 20 1969", "feb 29, 2000", "14.02.2010", "Wednesday, March 3, 1999",
         "31/12/2099", "7 jan 2001", "x", "2 February 1987", "  12 dec 2012  "]
LONG = "21 nov 2026 " * 250  # 3000 bytes: under the bound, 100x the short ones
lines = SHORT * 3 + [LONG] + SHORT[::-1]  # the long line at line 46, lengths mixed
stdin = ("\n".join(lines) + "\n").encode()

# 1. One run over all lines: one output per line, each what that line gives alone.
rc, out, err = run(["translate", "-"], stdin)
expect(rc == 0, f"translate - exits 0 (got {rc}: {err.strip()})")
got = out.split("\n")[:-1]
expect(len(got) == len(lines), f"{len(lines)} outputs (got {len(got)})")
alone = {}
for text in set(lines):
    rc1, out1, err1 = run(["translate", "-"], (text + "\n").encode())
    expect(rc1 == 0 and out1.count("\n") == 1, f"{text[:20]!r} alone: exit 0, one line ({err1})")
    alone[text] = out1[:-1]
for i, (text, result) in enumerate(zip(lines, got)):
    expect(result == alone[text],
           f"line {i + 1} {text[:20]!r}: batched {result[:30]!r}, alone {alone[text][:30]!r}")
expect(alone["21 Nov 2026"] == "2026-11-21", f"the model works: {alone['21 Nov 2026']!r}")

# 2. The bound: 4096 bytes pass, 4097 are refused naming the line; nothing printed.
rc, out, err = run(["translate", "-"], b"21 Nov 2026\n" + b"1" * 4096 + b"\r\n")
expect(rc == 0 and out.count("\n") == 2, f"a 4096-byte line (CRLF) translates ({rc}: {err})")
for tail in (b"", b"\n", b"\nmore\n"):
    rc, out, err = run(["translate", "-"], b"a\nb\nc\nd\n" + b"2" * 4097 + tail)
    expect(rc == 1, f"a 4097-byte line: exit 1 (got {rc})")
    expect(out == "", f"a 4097-byte line: nothing on stdout (got {out[:40]!r})")
    expect(err.startswith("seqattn: stdin line 5 is longer than 4096 bytes"),
           f"a 4097-byte line is named: {err!r}")
rc, out, err = run(["translate", "-"], b"3" * 10_000_000)  # 10 MB, no newline: read no further
expect(rc == 1 and "stdin line 1 is longer than 4096 bytes" in err, f"a 10 MB line: {err!r}")
rc, out, err = run(["translate", "21 Nov 2026", "4" * 5000])
expect(rc == 1 and out == "" and err.startswith("seqattn: TEXT 2 is longer than 4096 bytes"),
       f"a 5000-byte TEXT: {rc} {err!r}")

# 3. A NUL byte: refused naming the line, not translated as the text before it.
rc, out, err = run(["translate", "-"], b"21 Nov 2026\n2\x001 Nov 2026\n")
expect(rc == 1 and out == "", f"a NUL byte: exit 1, nothing printed ({rc}, {out!r})")
expect(err.startswith("seqattn: stdin line 2 holds a NUL byte (at byte 2)"), f"NUL: {err!r}")

# 4. --show-attention with a huge --max-steps: the size named, not std::bad_alloc.
rc, out, err = run(["translate", "--show-attention", "--max-steps", "100000", "-"],
                   ("21 Nov 2026\n" + LONG + "\n").encode())
expect(rc == 1 and out == "", f"--show-attention, 100000 steps x 3000 tokens: exit 1 ({rc})")
expect("bad_alloc" not in err and "--max-steps" in err and "stdin line 2" in err
       and "more than the limit of 256.0 MiB" in err, f"the attention map's size named: {err!r}")
rc, out, err = run(["translate", "--show-attention", "--max-steps", "100000", "21 Nov 2026"])
expect(rc == 0 and out.startswith("2026-11-21\n"), f"a short line with 100000 steps: {rc} {err}")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
