#!/usr/bin/env python3
"""A stand-in for the `pulumi` CLI: records each call (argv, stdin, working folder) as one JSON
line in $FAKE_PULUMI_LOG and answers like the CLI would for the calls secrets-plane makes.
$FAKE_PULUMI_FAIL names a subcommand (e.g. `up`) to fail, optionally `up@2` for its second call.

`config set/get/rm --path` change the stack file in the working folder as the CLI does: a secret
is written as `secure: stand-in:<n>`, its value kept in a file beside the log (the real CLI
encrypts it), so a value set by one command can be read back by a later one."""

import json
import os
import sys

import yaml

log = os.environ["FAKE_PULUMI_LOG"]
vault_file = log + ".vault.json"
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with open(log, "a") as out:
    # The manifest the program would read (the plane's commands pass the one they were given).
    out.write(json.dumps({"argv": sys.argv[1:], "stdin": stdin, "cwd": os.getcwd(),
                          "manifest": os.environ.get("SECRETS_PLANE_MANIFEST")}) + "\n")
command = sys.argv[1] if len(sys.argv) > 1 else ""
fail = os.environ.get("FAKE_PULUMI_FAIL", "")
if fail:
    name, _, nth = fail.partition("@")
    calls = sum(1 for line in open(log) if json.loads(line)["argv"][:1] == [name])
    if name == command and (not nth or int(nth) == calls):
        print(f"error: {command} failed (stand-in)", file=sys.stderr)
        sys.exit(255)


def option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def config(args: list[str]) -> int:
    stack = option(args, "--stack")
    flags = {"--secret", "--path", "--non-interactive", "--stack", stack}
    words = [a for a in args[1:] if a not in flags]
    if "--path" not in args or stack is None or not words:
        return 0  # a call the plane does not make: accepted, as before
    stack_file = os.path.join(os.getcwd(), f"Pulumi.{stack}.yaml")
    if not os.path.exists(stack_file):
        return 0
    with open(stack_file) as f:
        doc = yaml.safe_load(f) or {}
    cfg = doc.setdefault("config", {})
    top, *rest = words[1].split(".")
    vault = json.load(open(vault_file)) if os.path.exists(vault_file) else {}
    action = words[0]
    if action == "get":
        node = cfg.get(top)
        for part in rest:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            print(f"error: configuration key '{words[1]}' not found for stack '{stack}'", file=sys.stderr)
            return 255
        if isinstance(node, dict) and set(node) == {"secure"}:
            if node["secure"] not in vault:
                print("error: failed to decrypt (stand-in: a value not set through it)", file=sys.stderr)
                return 255
            node = vault[node["secure"]]
        print(node)
        return 0
    if action == "set":
        if "--secret" in args:
            token = f"stand-in:{len(vault) + 1}"
            vault[token] = stdin[:-1] if stdin.endswith("\n") else stdin
            value = {"secure": token}
            with open(vault_file, "w") as f:
                json.dump(vault, f)
        else:
            value = words[2]
        if not rest:
            cfg[top] = value
        else:
            node = cfg.setdefault(top, {})
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            node[rest[-1]] = value
    elif action == "rm":
        if not rest:
            cfg.pop(top, None)
        else:
            node = cfg.get(top, {})
            for part in rest[:-1]:
                node = node.get(part, {})
            node.pop(rest[-1], None)
            if top in cfg and not cfg[top]:
                cfg.pop(top)
    with open(stack_file, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return 0


if command == "config":
    sys.exit(config(sys.argv[1:]))
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
if command == "stack" and sys.argv[2:3] == ["select"]:
    sys.exit(0)
if command == "preview":
    print("Previewing update (stand-in)\nResources:\n    unchanged")
    sys.exit(0)
if command == "up":
    print("Updating (stand-in)\nResources:\n    ~ updated")
    sys.exit(0)
print(f"stand-in pulumi: unexpected command {sys.argv[1:]}", file=sys.stderr)
sys.exit(2)
