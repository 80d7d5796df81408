"""Runs the guides' shell walkthroughs against a demo server, so a guide can never go stale.

Every ```sh block of a guide in mobile-api-docs/guides/ is a step; one guide's steps run in
order in one bash (variables carry from one step to the next), from the repository root (so
the photos that ship in the repo are found), with `set -euo pipefail`, after replacing the
guides' server address http://127.0.0.1:8080 (and localhost:8080) with the server under test.
A block right after a line `<!-- not run: why -->` is shown to readers but not run (starting
a server, an endless stream). A guide without ```sh blocks is skipped.

What a step prints is checked against its `# → …` comments (and the `#   …` lines that
continue them): each, in order, must appear in the step's output, whitespace aside, with
`…` standing for anything.

    python3 run_guides.py http://127.0.0.1:PORT [guide.md ...]
"""

import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
GUIDES = ROOT / "mobile-api-docs" / "guides"
BLOCK = re.compile(r"(<!-- not run:[^>]*-->\s*\n)?```sh\n(.*?)```", re.S)


def steps(text):
    for m in BLOCK.finditer(text):
        if m.group(1):
            continue
        line = text.count("\n", 0, m.start(2)) + 1
        yield line, m.group(2)


def expectations(body):
    """The `# → …` comments of a step, continuation lines joined."""
    out = []
    for raw in body.splitlines():
        s = raw.strip()
        if s.startswith("# →"):
            out.append(s[3:].strip())
        elif s.startswith("#   ") and out:
            out[-1] += " " + s[1:].strip()
    return out


def pattern(expected):
    squeezed = re.sub(r"\s+", "", expected)
    return re.compile(".*?".join(re.escape(part) for part in squeezed.split("…")), re.S)


def check(body, output):
    """The first expectation of `body` not found in `output` (in order), or None."""
    text = re.sub(r"\s+", "", output)
    at = 0
    for want in expectations(body):
        m = pattern(want).search(text, at)
        if not m:
            return want
        at = m.end()
    return None


def main():
    base = sys.argv[1].rstrip("/")
    host = base.split("://", 1)[1]
    chosen = sys.argv[2:]
    guides = sorted(GUIDES.glob("*.md")) if not chosen else [GUIDES / c for c in chosen]
    passed = failed = 0
    for guide in guides:
        found = list(steps(guide.read_text(encoding="utf-8")))
        if not found:
            continue
        script = ["set -euo pipefail", f"cd {str(ROOT)!r}"]
        found = [(line, body.replace("http://127.0.0.1:8080", base).replace("localhost:8080", host)) for line, body in found]
        for i, (line, body) in enumerate(found):
            # On a line of its own even after output without a final newline (curl's).
            script.append(f"echo '--- {guide.name}:{line}' >&2; printf '\\n@@step {i}\\n'")
            script.append(body)
        started = time.time()
        try:
            run = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired as e:
            failed += 1
            print(f"FAIL {guide.name}: still running after {e.timeout} s (a step that never ends? mark it not run)")
            continue
        took = time.time() - started
        outputs = re.split(r"^@@step \d+\n", run.stdout, flags=re.M)[1:]
        wrong = None
        if run.returncode == 0:
            for (line, body), output in zip(found, outputs):
                missing = check(body, output)
                if missing is not None:
                    wrong = (line, missing, output)
                    break
        if wrong:
            failed += 1
            line, missing, output = wrong
            print(f"FAIL {guide.name}: the step at line {line} did not print what the guide says: {missing!r}")
            print("it printed:\n" + output)
        elif run.returncode == 0:
            passed += 1
            print(f"PASS {guide.name} ({len(found)} steps, {took:.1f} s)")
        else:
            failed += 1
            where = [l for l in run.stderr.splitlines() if l.startswith("--- ")]
            print(f"FAIL {guide.name}: the step at {where[-1][4:] if where else '?'} failed (exit {run.returncode})")
            print("stdout (last 30 lines):\n" + "\n".join(run.stdout.splitlines()[-30:]))
            print("stderr (last 30 lines):\n" + "\n".join(run.stderr.splitlines()[-30:]))
    print(f"guides: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
