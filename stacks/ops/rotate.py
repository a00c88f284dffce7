"""`rotate NAME --stack S [--stack S2 ...]`: a new value, set and applied to exactly what carries it.

The new value comes on standard input (or `--generate`, for secrets the manifest marks
`generate: {bytes: N}`), is checked against every stack's size limit before anything happens, is
set encrypted through `pulumi config set` (value on stdin, never argv), and then `pulumi up
--target` runs on exactly the resources that carry it: the store secret (one in-place update, no
Worker version), each AI Gateway BYOK key holding it (its own store secret, one in-place update) and
the WorkerSecretBindings of every Worker holding it as a Worker secret (a
legacy binding or a fallback copy: one version each). Stacks go in the order given, and a failing
stack stops the ones after it. A rotation leaves the manifest digest as it is, so the promotion
gate lets production through.
"""

from __future__ import annotations

import base64
import getpass
import secrets as random_source
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from ..core.desired_state import ByokKey, StoreSecret, WorkerState
from ..core.errors import PlaneError, Problem, did_you_mean, shown_name
from ..core.estate import MANIFEST_FILE, Estate
from ..core.manifest import GenerateSpec
from ..core.naming import (
    BINDINGS_TYPE,
    BYOK_TYPE,
    STORE_SECRET_TYPE,
    bindings_resource,
    byok_resource,
    store_secret_resource,
    urn,
)
from ..core.stack_config import NAMESPACE
from ..core.values import oversized_values
from .pulumi_cli import pulumi_said, run_pulumi, set_secret_value


@dataclass(frozen=True)
class RotationTarget:
    stack: str
    store_secret: StoreSecret | None
    workers: list[WorkerState]
    # AI Gateway BYOK keys holding it: each one store-secret update, no config write, no Worker.
    byok: tuple[ByokKey, ...] = ()

    @property
    def urns(self) -> list[str]:
        found = [urn(self.stack, STORE_SECRET_TYPE, store_secret_resource(self.store_secret.secret))] \
            if self.store_secret else []
        found += [urn(self.stack, BYOK_TYPE, byok_resource(k.gateway_id, k.provider_slug, k.alias)) for k in self.byok]
        return found + [urn(self.stack, BINDINGS_TYPE, bindings_resource(w.script_name)) for w in self.workers]

    def describe(self) -> str:
        parts = []
        if self.store_secret:
            parts.append(f"store secret {self.store_secret.store_secret_name} (1 in-place update, no Worker version)")
        parts += [f"AI Gateway {k.gateway_id} key {k.provider_slug}/{k.alias} (store secret {k.store_secret_name}: 1 "
                  "in-place update, no config write)" for k in self.byok]
        if self.workers:
            parts.append(f"{len(self.workers)} Worker(s) holding it as a Worker secret, one version each: "
                         + ", ".join(w.script_name for w in self.workers))
        return f"{self.stack}: " + "; ".join(parts)


def rotation_target(estate: Estate, secret: str, stack: str) -> RotationTarget:
    desired = estate.desired_state(stack)
    store, workers = desired.rotation(secret)
    return RotationTarget(stack, store, workers, tuple(desired.byok_for(secret)))


def up_args(target: RotationTarget, yes: bool) -> list[str]:
    """`pulumi up` on exactly the resources that carry the secret in one stack."""
    args = ["up", "--stack", target.stack] + [a for u in target.urns for a in ("--target", u)]
    return args + (["--yes", "--non-interactive"] if yes else [])


def generate_value(spec: GenerateSpec) -> str:
    raw = random_source.token_bytes(spec.bytes)
    return raw.hex() if spec.encoding == "hex" else base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _read_value(stdin: TextIO) -> str:
    if stdin.isatty():
        return getpass.getpass("new value (not echoed): ")
    text = stdin.read()
    return text[:-1] if text.endswith("\n") else text


def rotate(estate: Estate, secret: str, stacks: list[str], generate: bool, yes: bool, out: TextIO,
           stdin: TextIO | None = None, dry_run: bool = False) -> int:
    m = estate.manifest.manifest
    spec = m.secrets.get(secret)
    if spec is None:
        shown = shown_name(secret, m.secrets)
        if shown is None:
            # A value typed where the name goes (`rotate sk_live_...`) must not land in the CI log.
            raise PlaneError.at("rotate", "NAME", "the first argument is not a secret of the manifest (it is not "
                                "shown: it may be a value typed in the wrong place)",
                                "pass the secret's name (python -m stacks values status lists them) and the value on "
                                "standard input")
        raise PlaneError.at(MANIFEST_FILE, f"secrets.{secret}", f"no secret '{secret}' in the manifest",
                            did_you_mean(secret, m.secrets) or "check the name")
    if spec.external:
        raise PlaneError.at(MANIFEST_FILE, f"secrets.{secret}", f"'{secret}' is external: the plane never owns its value",
                            "rotate it where it is set (wrangler or the dashboard), or drop `external: true`",
                            line=estate.manifest.doc.line_of(("secrets", secret)))
    if generate and spec.generate is None:
        raise PlaneError.at(MANIFEST_FILE, f"secrets.{secret}", f"'{secret}' does not say how to generate a value",
                            "add `generate: {bytes: 32}` to the secret, or give the value on standard input",
                            line=estate.manifest.doc.line_of(("secrets", secret)))
    stream = stdin or sys.stdin
    if not yes and not dry_run and not stream.isatty():
        raise PlaneError.at("rotate", "--yes", "standard input is not a terminal, so `pulumi up` cannot ask for "
                            "confirmation", "pass --yes (the command prints what it will touch before it applies)")
    targets = [rotation_target(estate, secret, stack) for stack in stacks]
    unused = [t.stack for t in targets if not t.urns]
    if unused:
        raise PlaneError.at(MANIFEST_FILE, f"secrets.{secret}", f"stack(s) {', '.join(unused)} hold no copy of '{secret}'",
                            "rotate it only where a Worker or the store holds it")
    # A dry run reads a value given on stdin (to check its size) but never prompts for one.
    unread = dry_run and not generate and stream.isatty()
    value = None if generate or unread else _read_value(stream)
    if value is not None:
        if not value:
            raise PlaneError.at("<stdin>", "", f"no value for '{secret}' on standard input (an empty credential is never "
                                "set)", f"printf '%s' \"$NEW\" | python -m stacks rotate {secret} ...")
        problems: list[Problem] = []
        for target in targets:
            problems += oversized_values(estate.desired_state(target.stack), {secret: len(value.encode("utf-8"))})
        if problems:
            raise PlaneError(problems)
    print(f"rotate {secret}: {'would touch' if dry_run else 'touches'} exactly", file=out)
    for target in targets:
        print(f"  {target.describe()}", file=out)
    if dry_run:
        if unread:
            print("(no value on standard input: its size is checked when the rotation runs)", file=out)
        print("would run, per stack in this order (the value on standard input, never on a command line):", file=out)
        for target in targets:
            print(f"  pulumi config set --secret --path '{NAMESPACE}:values.{secret}' --stack {target.stack}", file=out)
            print(f"  pulumi {' '.join(up_args(target, yes))}", file=out)
        return 0
    started = time.monotonic()
    for target in targets:
        stack_started = time.monotonic()
        new = generate_value(spec.generate) if generate and spec.generate else value
        assert new is not None
        # pulumi strips one trailing newline from standard input: send one, so the value is exact.
        result = set_secret_value(estate.project_dir, target.stack, secret, new + "\n")
        if result.returncode != 0:
            said = pulumi_said(result.stderr, [new])
            raise PlaneError.at(f"Pulumi.{target.stack}.yaml", f"config.secrets-plane:values.{secret}",
                                f"pulumi config set failed ({said}); nothing was applied on {target.stack}",
                                "fix the cause and run the same command again")
        applied = run_pulumi(up_args(target, yes), estate.project_dir, capture=False)
        if applied.returncode != 0:
            raise PlaneError.at(f"Pulumi.{target.stack}.yaml", "", f"pulumi up failed on {target.stack} (exit "
                                f"{applied.returncode}): the new value is set in its config but not applied"
                                + (f"; {', '.join(t.stack for t in targets[targets.index(target) + 1:])} not started"
                                   if target is not targets[-1] else ""),
                                "read pulumi's output above, fix the cause and run the same command again")
        print(f"rotated {secret} on {target.stack} in {time.monotonic() - stack_started:.1f} s", file=out)
    print(f"rotated {secret} on {len(targets)} stack(s) in {time.monotonic() - started:.1f} s", file=out)
    return 0
