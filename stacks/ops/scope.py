"""`stacks scope`: what this run touches, for preflight and the canary to read only that.

1. The record: `pulumi stack output --json` (`served_as_of`, per script). None, or unreadable: the
   full check, said so (and, applying, a full `pulumi refresh`).
2. Drift: the Workers API's listing of Workers (100 a page, newest deployment first, back to where
   the last applied run's listing reached: `listed_as_of`); a Worker deployed since the record is
   refreshed (`pulumi refresh --target`, two calls each), so the apply repairs what it lost. The
   scope file carries how far this listing reached, for the apply to record.
3. What the run writes: `pulumi preview --json`, without refresh: the engine's own diff of its
   state against the manifest, the stack file and the values (core/scope.py).

Calls to Cloudflare: the listing (one per 100 Workers), the refreshed Workers, and the preview's
lookup of an adopted store. The preview's JSON is read here and never written: only names leave.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.desired_state import DesiredState
from ..core.errors import PlaneError
from ..core.naming import BINDINGS_TYPE, urn
from ..core.scope import Scope, cutoff, drifted, listed_as_of_of, newest, record_of, written
from ..live.account import LiveAccount
from .pulumi_cli import PulumiResult, pulumi_said, run_pulumi

Runner = Callable[[Sequence[str], Path], PulumiResult]


def _run(args: Sequence[str], project: Path) -> PulumiResult:
    return run_pulumi(args, project)


@dataclass
class ScopeRun:
    scope: Scope
    said: list[str] = field(default_factory=list)  # what the run did, for stderr
    refreshed: list[str] = field(default_factory=list)


def _json(result: PulumiResult) -> object | None:
    if result.returncode != 0:
        return None
    try:
        parsed: object = json.loads(result.stdout or "null")
    except ValueError:
        return None
    return parsed


def stack_outputs(project: Path, stack: str, run: Runner = _run) -> dict[str, object] | None:
    """`pulumi stack output --json` for the stack; None when it answers no JSON object (no stack yet)."""
    outputs = _json(run(["stack", "output", "--json", "--stack", stack], project))
    return outputs if isinstance(outputs, dict) else None


def derive_scope(project: Path, stack: str, desired: DesiredState, live: LiveAccount, *, everything: bool = False,
                 refresh: bool = True, run: Runner = _run) -> ScopeRun:
    """The scope of this run; with `refresh`, the drifted Workers (or all, when the scope is full)
    refreshed into the stack's state first, so the apply repairs them."""
    scripts = [w.script_name for w in desired.workers]
    out = ScopeRun(Scope.everything("asked for with --all"))
    if not everything:
        outputs = stack_outputs(project, stack, run)
        record = record_of(outputs) if outputs is not None else None
        reached_before = listed_as_of_of(outputs) if outputs is not None else None
        if record is None:
            why = ("the stack outputs could not be read" if outputs is None else
                   "the stack outputs hold no `served_as_of` record yet (its first apply by this version records it)")
            out.scope = Scope.everything(why)
        else:
            listing = live.deployed_on(cutoff(record, reached_before, scripts))
            changed = drifted(record, listing, scripts)
            out.said.append(f"{len(changed)} of {len(scripts)} Worker(s) deployed since the plane last read them"
                            + (f": {', '.join(changed)}" if changed else ""))
            if changed and refresh:
                targets = [arg for script in changed for arg in ("--target", urn(stack, BINDINGS_TYPE, script))]
                _refreshed(run(["refresh", "--yes", "--skip-preview", "--stack", stack, *targets], project), stack)
                out.refreshed = changed
            steps = _json(run(["preview", "--json", "--stack", stack], project))
            if not isinstance(steps, dict) or not isinstance(steps.get("steps", []), list):
                out.scope = Scope.everything("the preview's JSON could not be read")
            else:
                workers, secrets = written(steps.get("steps") or [])
                # Vouched for only when every drifted Worker is in the state now (refreshed).
                reached = newest(listing) if refresh or not changed else None
                out.scope = Scope(False, "", tuple(sorted(set(workers) | set(changed))), tuple(secrets),
                                  tuple(changed), reached)
                return out
    return _full_refresh(out, project, stack, refresh, run)


def _full_refresh(out: ScopeRun, project: Path, stack: str, refresh: bool, run: Runner) -> ScopeRun:
    out.said.append(f"full check: {out.scope.reason}")
    if refresh:
        _refreshed(run(["refresh", "--yes", "--skip-preview", "--stack", stack], project), stack)
        out.refreshed = ["(every resource)"]
    return out


def _refreshed(result: PulumiResult, stack: str) -> None:
    if result.returncode != 0:
        raise PlaneError.at("pulumi", "refresh", f"pulumi refresh of stack {stack} failed ({pulumi_said(result.stderr, [])})",
                            "fix what it says and re-run; nothing was applied")
