"""What a run touches, derived with no call to Cloudflare: the Workers and store secrets it writes,
and the Workers changed by someone else since the plane last read them. Preflight and the canary
read only these; a scope that cannot be derived is the full check, and says why.

Two records, both kept by Pulumi for the stack:

- what was last applied: the engine's state (every resource's last inputs, values encrypted). The
  engine's own preview without refresh diffs it against the manifest, the stack file and the values
  now (the bindings resource's diff is offline, and so is pulumi-cloudflare's for a store secret),
  so `written` takes that diff as it is: no second digest of any value exists to leak;
- what last served: the stack output `served_as_of`, per script the time its newest deployment was
  known to be made by (its `created_on` when the plane read it, or the second its own write
  answered). The Workers API's listing of Workers says when each Worker's newest deployment was
  made (`deployed_on`); every change of what a Worker serves is a new deployment, so a later
  `deployed_on` is exactly "changed since the plane last looked" (`drifted`);
- how far the last drift check reached: the stack output `listed_as_of`, the newest `deployed_on`
  the last applied run's listing held (Cloudflare's clock, never this machine's). Every Worker
  deployed by then was compared with the record, and the drifted ones refreshed into the state
  before that apply, so the next listing stops there (`cutoff`): one page on an everyday run,
  whatever the number of Workers. A run that cannot vouch for its listing (drift found and not
  refreshed, or no listing) records none, and the next run reads back to the oldest record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .naming import BINDINGS_TYPE, STORE_SECRET_TYPE, store_secret_resource

# Steps of `pulumi preview --json` that change a resource (`same`, `read`, `refresh` do not).
WRITING_OPS = frozenset({"create", "update", "delete", "replace", "create-replacement", "delete-replaced",
                         "import", "import-replacement", "discard", "discard-replaced"})


@dataclass(frozen=True)
class Scope:
    """The Workers (by script) and store secrets (by the manifest's secret name) a run touches. `full`: everything,
    because `reason` (no record, a record that cannot be read, or asked for)."""

    full: bool
    reason: str = ""
    workers: tuple[str, ...] = ()
    store_secrets: tuple[str, ...] = ()
    drifted: tuple[str, ...] = ()  # of `workers`: changed by someone else since the plane read them
    listed_as_of: str | None = None  # for the apply to record (`listed_as_of`); None: this run vouches for none

    @classmethod
    def everything(cls, reason: str) -> Scope:
        return cls(True, reason)

    def has_worker(self, script: str) -> bool:
        return self.full or script in self.workers

    def has_store_secret(self, name: str) -> bool:
        return self.full or name in self.store_secrets

    @property
    def empty(self) -> bool:
        return not self.full and not self.workers and not self.store_secrets

    def describe(self) -> str:
        if self.full:
            return f"every Worker and store secret ({self.reason})"
        if self.empty:
            return "nothing: no Worker or store secret is written, and none changed since the plane read it"
        parts = [f"{len(self.workers)} Worker(s)", f"{len(self.store_secrets)} store secret(s)"]
        if self.drifted:
            parts.append(f"{len(self.drifted)} of the Workers changed since the plane read them")
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {"full": self.full, "reason": self.reason, "workers": list(self.workers),
                "store_secrets": list(self.store_secrets), "drifted": list(self.drifted),
                "listed_as_of": self.listed_as_of}

    @classmethod
    def from_json(cls, data: Any) -> Scope:
        """A scope file as written by `stacks scope`; ValueError for anything else."""
        if not isinstance(data, Mapping) or not isinstance(data.get("full"), bool):
            raise ValueError("not a scope: no `full`")
        lists = {}
        for key in ("workers", "store_secrets", "drifted"):
            items = data.get(key, [])
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ValueError(f"`{key}` is not a list of names")
            lists[key] = tuple(items)
        listed = data.get("listed_as_of")
        if listed is not None and _time(listed if isinstance(listed, str) else None) is None:
            raise ValueError("`listed_as_of` is not a time")
        return cls(data["full"], str(data.get("reason") or ""), lists["workers"], lists["store_secrets"],
                   lists["drifted"], listed)


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def drifted(record: Mapping[str, str | None], listing: Mapping[str, str | None],
            scripts: Iterable[str]) -> list[str]:
    """The scripts to read again: a newest deployment made after the record, or one the record or
    the listing cannot date. A script missing from the listing is left to preflight (which says it
    does not exist), and one missing from the record to the apply (the plane has never written it:
    the preview shows it created)."""
    out = []
    for script in scripts:
        if script not in listing or script not in record:
            continue
        seen, deployed = _time(record.get(script)), _time(listing[script])
        if seen is None or deployed is None or deployed > seen:
            out.append(script)
    return sorted(out)


def oldest(record: Mapping[str, str | None], scripts: Iterable[str]) -> str | None:
    """How far back the listing must go, newest deployment first: the oldest record of these
    scripts (a Worker deployed before it cannot be later than its own record). None, the whole
    listing: a script the record cannot date."""
    stamps: list[tuple[dt.datetime, str]] = []
    for script in scripts:
        if script in record:
            text = record[script]
            when = _time(text)
            if text is None or when is None:
                return None
            stamps.append((when, text))
    return min(stamps)[1] if stamps else None


def cutoff(record: Mapping[str, str | None], listed_as_of: str | None, scripts: Iterable[str]) -> str | None:
    """How far back this run's listing reads: the later of the oldest record (`oldest`) and how far
    the last applied run's listing reached (`listed_as_of`). None: the whole listing."""
    floor, checked = oldest(record, scripts), _time(listed_as_of)
    if checked is None or listed_as_of is None:
        return floor
    when = _time(floor)
    return listed_as_of if when is None or checked > when else floor


def newest(listing: Mapping[str, str | None]) -> str | None:
    """The newest `deployed_on` a listing held: how far it reached."""
    stamps = [(when, text) for text in listing.values() if text and (when := _time(text)) is not None]
    return max(stamps)[1] if stamps else None


def written(steps: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(scripts, secrets) that a preview's steps write: a bindings resource is named by its script
    (naming.bindings_resource), a store secret by its secret (naming.store_secret_resource)."""
    scripts, secrets = set(), set()
    prefix = store_secret_resource("")
    for step in steps:
        if not isinstance(step, Mapping) or step.get("op") not in WRITING_OPS:
            continue
        parts = str(step.get("urn") or "").split("::")
        if len(parts) < 4:
            continue
        kind, name = parts[-2], parts[-1]
        if kind.endswith(BINDINGS_TYPE):
            scripts.add(name)
        elif kind.endswith(STORE_SECRET_TYPE) and name.startswith(prefix):
            secrets.add(name[len(prefix):])
    return sorted(scripts), sorted(secrets)


def record_of(outputs: Mapping[str, Any]) -> dict[str, str | None] | None:
    """`served_as_of` from `pulumi stack output --json`; None when the stack has none (never applied
    by a plane that records it)."""
    raw = outputs.get("served_as_of")
    if not isinstance(raw, Mapping):
        return None
    return {str(k): (v if isinstance(v, str) else None) for k, v in raw.items()}


def listed_as_of_of(outputs: Mapping[str, Any]) -> str | None:
    """`listed_as_of` from the stack outputs; None when absent or not a time (the listing then reads
    back to the oldest record)."""
    raw = outputs.get("listed_as_of")
    return raw if isinstance(raw, str) and _time(raw) is not None else None


SCOPE_FILE_ENV = "SECRETS_PLANE_SCOPE"


def listed_as_of_in(text: str | None) -> str | None:
    """What an apply records as `listed_as_of`: the scope file's (the file `stacks scope` wrote for
    this run, named by SECRETS_PLANE_SCOPE). Anything unreadable records none, which is safe: the
    next run reads further back."""
    if not text:
        return None
    try:
        return Scope.from_json(json.loads(text)).listed_as_of
    except ValueError:
        return None
