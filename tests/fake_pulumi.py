#!/usr/bin/env python3
"""A stand-in for the `pulumi` CLI: records each call (argv, stdin, working folder) as one JSON
line in $FAKE_PULUMI_LOG and answers like the CLI would for the calls secrets-plane makes.
$FAKE_PULUMI_FAIL names a subcommand (e.g. `up`) to fail, optionally `up@2` for its second call."""

import json
import os
import sys

log = os.environ["FAKE_PULUMI_LOG"]
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with open(log, "a") as out:
    out.write(json.dumps({"argv": sys.argv[1:], "stdin": stdin, "cwd": os.getcwd()}) + "\n")
command = sys.argv[1] if len(sys.argv) > 1 else ""
fail = os.environ.get("FAKE_PULUMI_FAIL", "")
if fail:
    name, _, nth = fail.partition("@")
    calls = sum(1 for line in open(log) if json.loads(line)["argv"][:1] == [name])
    if name == command and (not nth or int(nth) == calls):
        print(f"error: {command} failed (stand-in)", file=sys.stderr)
        sys.exit(255)
if command == "config":
    sys.exit(0)
if command == "stack" and sys.argv[2:4] == ["output", "--json"]:
    # $FAKE_PULUMI_OUTPUTS: a file holding the stack's outputs as JSON (absent: a stack with none).
    path = os.environ.get("FAKE_PULUMI_OUTPUTS")
    print(open(path).read() if path else "{}")
    sys.exit(0)
if command == "preview" and "--json" in sys.argv:
    # $FAKE_PULUMI_PREVIEW: the engine's steps as `pulumi preview --json` prints them.
    path = os.environ.get("FAKE_PULUMI_PREVIEW")
    print(open(path).read() if path else '{"steps": []}')
    sys.exit(0)
if command == "refresh":
    print("Refreshing (stand-in)")
    sys.exit(0)
if command == "up":
    print("Updating (stand-in)\nResources:\n    ~ updated")
    sys.exit(0)
print(f"stand-in pulumi: unexpected command {sys.argv[1:]}", file=sys.stderr)
sys.exit(2)
