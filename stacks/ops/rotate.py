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

A secret with `overlap_days` keeps its previous value readable as `<BINDING>_PREVIOUS` for that
many days: `rotate` first moves the current value to `secrets-plane:previous.NAME` (read with
`pulumi config get`, written back on stdin: the value never reaches argv or output) with the day
it retires, then sets the new one, and the same targeted apply writes both (two store secrets and
no Worker version on the store; one version per holder carrying both values on legacy).
`--no-overlap` (a leaked key must stop working now) sets both to the new value, and `retire NAME`
ends a window early or on its day: the old value stops working and
`_PREVIOUS` holds the current one.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import secrets as random_source
import sys
import time
from dataclasses import dataclass, replace
from typing import TextIO

from ..core.desired_state import ByokKey, StoreSecret, WorkerState
from ..core.errors import PlaneError, Problem, did_you_mean, shown_name
from ..core.estate import Estate
from ..core.manifest import GenerateSpec, SecretSpec
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
from .pulumi_cli import (
    PulumiResult,
    get_secret_value,
    pulumi_executable,
    pulumi_said,
    remove_config,
    run_pulumi,
    set_plain_config,
    set_secret_config,
    set_secret_value,
)


@dataclass(frozen=True)
class RotationTarget:
    stack: str
    store_secrets: list[StoreSecret]
    workers: list[WorkerState]
    overlap_days: int | None = None
    retires: str | None = None  # the window open now, if any
    # AI Gateway BYOK keys holding it: each one store-secret update, no config write, no Worker.
    byok: tuple[ByokKey, ...] = ()

    @property
    def urns(self) -> list[str]:
        found = [urn(self.stack, STORE_SECRET_TYPE, store_secret_resource(s.secret, previous=s.slot == "previous"))
                 for s in self.store_secrets]
        found += [urn(self.stack, BYOK_TYPE, byok_resource(k.gateway_id, k.provider_slug, k.alias)) for k in self.byok]
        return found + [urn(self.stack, BINDINGS_TYPE, bindings_resource(w.script_name)) for w in self.workers]

    def describe(self) -> str:
        parts = []
        if self.store_secrets:
            names = " and ".join(s.store_secret_name for s in self.store_secrets)
            # Outside a window the previous store secret already holds the value moved into it.
            writes = 1 if self.overlap_days is not None and self.retires is None else len(self.store_secrets)
            parts.append(f"store secret{'s' if len(self.store_secrets) > 1 else ''} {names} "
                         f"({writes} in-place update{'s' if writes > 1 else ''}, no Worker version)")
        parts += [f"AI Gateway {k.gateway_id} key {k.provider_slug}/{k.alias} (store secret {k.store_secret_name}: 1 "
                  "in-place update, no config write)" for k in self.byok]
        if self.workers:
            both = " (both values in it)" if self.overlap_days is not None else ""
            parts.append(f"{len(self.workers)} Worker(s) holding it as a Worker secret, one version each{both}: "
                         + ", ".join(w.script_name for w in self.workers))
        return f"{self.stack}: " + "; ".join(parts)


def rotation_target(estate: Estate, secret: str, stack: str) -> RotationTarget:
    desired = estate.desired_state(stack)
    stores, workers = desired.rotation(secret)
    overlap = desired.overlap(secret)
    return RotationTarget(stack, stores, workers, overlap.days if overlap else None,
                          overlap.retires if overlap else None, tuple(desired.byok_for(secret)))


def values_key(secret: str) -> str:
    return f"{NAMESPACE}:values.{secret}"


def previous_key(secret: str, leaf: str = "") -> str:
    return f"{NAMESPACE}:previous.{secret}" + (f".{leaf}" if leaf else "")


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


def _owned_spec(estate: Estate, secret: str) -> SecretSpec:
    """The manifest's spec of a secret whose value the plane owns, or a clear error."""
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
        raise PlaneError.at(estate.manifest_file, f"secrets.{secret}", f"no secret '{secret}' in the manifest",
                            did_you_mean(secret, m.secrets) or "check the name")
    if spec.external:
        raise PlaneError.at(estate.manifest_file, f"secrets.{secret}", f"'{secret}' is external: the plane never owns its value",
                            "rotate it where it is set (wrangler or the dashboard), or drop `external: true`",
                            line=estate.manifest.doc.line_of(("secrets", secret)))
    return spec


def rotate(estate: Estate, secret: str, stacks: list[str], generate: bool, yes: bool, out: TextIO,
           stdin: TextIO | None = None, dry_run: bool = False, no_overlap: bool = False) -> int:
    spec = _owned_spec(estate, secret)
    if generate and spec.generate is None:
        raise PlaneError.at(estate.manifest_file, f"secrets.{secret}", f"'{secret}' does not say how to generate a value",
                            "add `generate: {bytes: 32}` to the secret, or give the value on standard input",
                            line=estate.manifest.doc.line_of(("secrets", secret)))
    stream = stdin or sys.stdin
    if not yes and not dry_run and not stream.isatty():
        raise PlaneError.at("rotate", "--yes", "standard input is not a terminal, so `pulumi up` cannot ask for "
                            "confirmation", "pass --yes (the command prints what it will touch before it applies)")
    targets = [rotation_target(estate, secret, stack) for stack in stacks]
    unused = [t.stack for t in targets if not t.urns]
    if unused:
        raise PlaneError.at(estate.manifest_file, f"secrets.{secret}", f"stack(s) {', '.join(unused)} hold no copy of '{secret}'",
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
    if not dry_run:
        pulumi_executable()  # a missing CLI is said before anything is printed or set
    overlap = not no_overlap and spec.overlap_days is not None
    print(f"rotate {secret}: {'would touch' if dry_run else 'touches'} exactly", file=out)
    for target in targets:
        print(f"  {target.describe()}", file=out)
        if spec.overlap_days is not None:
            print(f"  {target.stack}: {_overlap_words(target, overlap, estate, secret)}", file=out)
    if dry_run:
        if unread:
            print("(no value on standard input: its size is checked when the rotation runs)", file=out)
        print("would run, per stack in this order (values on standard input, never on a command line):", file=out)
        for target in targets:
            for command in _config_commands(target, secret, overlap, estate):
                print(f"  {command}", file=out)
            print(f"  pulumi {' '.join(up_args(target, yes))}", file=out)
        return 0
    started = time.monotonic()
    for target in targets:
        stack_started = time.monotonic()
        new = generate_value(spec.generate) if generate and spec.generate else value
        assert new is not None
        _set_config(estate, target, secret, new, overlap)
        _apply(estate, target, targets, yes, "the new value is set in its config but not applied")
        print(f"rotated {secret} on {target.stack} in {time.monotonic() - stack_started:.1f} s", file=out)
    print(f"rotated {secret} on {len(targets)} stack(s) in {time.monotonic() - started:.1f} s", file=out)
    return 0


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _retire_day(target: RotationTarget) -> str:
    assert target.overlap_days is not None
    return (today() + dt.timedelta(days=target.overlap_days)).isoformat()


def _has_value(estate: Estate, stack: str, secret: str) -> bool:
    return secret in estate.stacks[stack].settings.value_names


def _overlap_words(target: RotationTarget, overlap: bool, estate: Estate, secret: str) -> str:
    if not overlap:
        return ("--no-overlap: the previous value becomes the new one too, so the old value stops working now"
                + (f" (the window open until {target.retires} closes)" if target.retires else ""))
    if not _has_value(estate, target.stack, secret):
        return "no value yet, so no previous one to keep: _PREVIOUS gets the new value too"
    words = f"the current value stays readable as _PREVIOUS until {_retire_day(target)} (retire it sooner with " \
            f"`retire {secret} --stack {target.stack}`)"
    if target.retires:
        words += f"; the window open until {target.retires} is replaced: the value before the current one stops " \
                 "working now"
    return words


def _config_commands(target: RotationTarget, secret: str, overlap: bool, estate: Estate) -> list[str]:
    """What `_set_config` runs, as a person would type it (values on standard input)."""
    stack = f"--stack {target.stack}"
    commands = []
    if overlap and _has_value(estate, target.stack, secret):
        commands += [f"pulumi config get --path '{values_key(secret)}' {stack}  # read here, never shown",
                     f"pulumi config set --path '{previous_key(secret, 'retires')}' {_retire_day(target)} {stack}",
                     f"pulumi config set --secret --path '{previous_key(secret, 'value')}' {stack}  # that value, "
                     "on stdin"]
    elif target.overlap_days is not None and target.retires:
        commands.append(f"pulumi config rm --path '{previous_key(secret)}' {stack}")
    commands.append(f"pulumi config set --secret --path '{values_key(secret)}' {stack}  # the new value, on stdin")
    return commands


def _config_failed(target: RotationTarget, key: str, result: PulumiResult, values: list[str]) -> PlaneError:
    return PlaneError.at(f"Pulumi.{target.stack}.yaml", f"config.{key}",
                         f"pulumi config failed ({pulumi_said(result.stderr, values)}); nothing was applied on "
                         f"{target.stack}", "fix the cause and run the same command again")


def _set_config(estate: Estate, target: RotationTarget, secret: str, new: str, overlap: bool) -> None:
    """The new value, and for a secret with overlap the previous one, in the stack's config. Every
    value goes on standard input; pulumi strips one trailing newline from it: send one.

    Safe to repeat: a re-run of the same rotation (the apply failed) finds the new value already
    current and leaves the previous one, the value that still serves, where it is. The retire day
    is written before the value, so a run stopped between them leaves a day without a value, which
    the stack file ignores and the re-run completes."""
    project = estate.project_dir
    if overlap:
        got = get_secret_value(project, target.stack, values_key(secret))
        if got.returncode == 0:
            current = got.stdout[:-1] if got.stdout.endswith("\n") else got.stdout
            if current != new:
                dated = set_plain_config(project, target.stack, previous_key(secret, "retires"), _retire_day(target))
                if dated.returncode != 0:
                    raise _config_failed(target, previous_key(secret, "retires"), dated, [new, current])
                moved = set_secret_config(project, target.stack, previous_key(secret, "value"), current + "\n")
                if moved.returncode != 0:
                    raise _config_failed(target, previous_key(secret, "value"), moved, [new, current])
        elif "not found" not in got.stderr:
            raise _config_failed(target, values_key(secret), got, [new])
        # Not found: no current value in the stack's config, so none to keep (an open window stays).
    elif target.overlap_days is not None and target.retires:
        removed = remove_config(project, target.stack, previous_key(secret))
        if removed.returncode != 0:
            raise _config_failed(target, previous_key(secret), removed, [new])
    result = set_secret_value(project, target.stack, secret, new + "\n")
    if result.returncode != 0:
        raise _config_failed(target, values_key(secret), result, [new])


def _apply(estate: Estate, target: RotationTarget, targets: list[RotationTarget], yes: bool, state: str) -> None:
    applied = run_pulumi(up_args(target, yes), estate.project_dir, capture=False)
    if applied.returncode != 0:
        later = targets[targets.index(target) + 1:]
        raise PlaneError.at(f"Pulumi.{target.stack}.yaml", "", f"pulumi up failed on {target.stack} (exit "
                            f"{applied.returncode}): {state}"
                            + (f"; {', '.join(t.stack for t in later)} not started" if later else ""),
                            "read pulumi's output above, fix the cause, then finish this stack with: pulumi "
                            + " ".join(up_args(target, yes)))


def retire(estate: Estate, secret: str, stacks: list[str], yes: bool, out: TextIO, dry_run: bool = False) -> int:
    """End an overlap window: the old value stops working, `_PREVIOUS` holds the current one (one
    targeted apply)."""
    spec = _owned_spec(estate, secret)
    if spec.overlap_days is None:
        raise PlaneError.at(estate.manifest_file, f"secrets.{secret}", f"'{secret}' has no `overlap_days`: it keeps no "
                            "previous value", "nothing to retire; add `overlap_days: N` to rotate it with overlap",
                            line=estate.manifest.doc.line_of(("secrets", secret)))
    if not yes and not dry_run and not sys.stdin.isatty():
        raise PlaneError.at("retire", "--yes", "standard input is not a terminal, so `pulumi up` cannot ask for "
                            "confirmation", "pass --yes (the command prints what it will touch before it applies)")
    # Only the previous slot changes: its store secret and the Workers holding it as a Worker secret.
    targets = [replace(t, store_secrets=[s for s in t.store_secrets if s.slot == "previous"], byok=())
               for t in (rotation_target(estate, secret, stack) for stack in stacks)]
    open_ = [t for t in targets if t.retires]
    for target in targets:
        if not target.retires:
            print(f"retire {secret}: no overlap window open on {target.stack} (_PREVIOUS already holds the current "
                  "value): nothing to do", file=out)
    if not open_:
        return 0
    if not dry_run:
        pulumi_executable()
    print(f"retire {secret}: {'would touch' if dry_run else 'touches'} exactly", file=out)
    for target in open_:
        print(f"  {target.describe()}; _PREVIOUS gets the current value (the window was open until {target.retires})",
              file=out)
    if dry_run:
        print("would run, per stack in this order:", file=out)
        for target in open_:
            print(f"  pulumi config rm --path '{previous_key(secret)}' --stack {target.stack}", file=out)
            print(f"  pulumi {' '.join(up_args(target, yes))}", file=out)
        return 0
    for target in open_:
        removed = remove_config(estate.project_dir, target.stack, previous_key(secret))
        if removed.returncode != 0:
            raise _config_failed(target, previous_key(secret), removed, [])
        _apply(estate, target, open_, yes, "the previous value is removed from its config but not applied")
        print(f"retired the previous value of {secret} on {target.stack}", file=out)
    return 0
