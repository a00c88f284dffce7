"""What the plane last read a Worker's version to hold: per script, that version's id and a digest
of its managed secret bindings (names, types, store and secret names: never a value).

A version never changes once made: the API edits none by id (the Workers API's versions are
created, listed, read and deleted; the settings write, secrets-bulk and `versions/latest` each
make a new version). So a record of what version V held stays true of V. The canary reads a
written Worker's deployment (what serves, live) and, when it serves the recorded version alone
and the digest of what the manifest wants equals the recorded one, has nothing more to read:
the plane read that version's bindings back itself in the run that wrote it. Anything else (a
deploy since, a gradual rollout, another manifest, no record) is read whole, as before.

The record is the stack output `verified` (program.py), written by the provider after its race
check's listing (bindings_provider.py) or a refresh; the canary takes it from
`pulumi stack output --json` (ops/scope.py `stack_outputs`), after the apply of a scoped run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .desired_state import SECRET_TYPES

_FIELDS = ("type", "store_id", "secret_name")


def bindings_digest(bindings: Mapping[str, Mapping[str, Any] | None], names: Iterable[str]) -> str:
    """The digest of the named bindings' shapes (an absent one included as absent), in name order:
    equal digests mean every one of them has the same type, store and secret name."""
    rows = [[name, *((bindings.get(name) or {}).get(k) for k in _FIELDS)] if bindings.get(name) is not None
            else [name] for name in sorted(set(names))]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Verified:
    version: str
    digest: str  # bindings_digest of the managed names in that version
    unmanaged_secrets: dict[str, str]  # secret bindings of that version the manifest does not manage: name -> type

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "unmanaged_secrets": dict(self.unmanaged_secrets)}


def verify(version_id: str, bindings: Mapping[str, Mapping[str, Any]], managed: Iterable[str]) -> Verified:
    """The record of one version read back: its managed bindings' digest and its other secret bindings."""
    names = set(managed)
    return Verified(version_id, bindings_digest(bindings, names),
                    {n: str(b.get("type")) for n, b in sorted(bindings.items())
                     if n not in names and b.get("type") in SECRET_TYPES})


def verified_of(outputs: Mapping[str, Any] | None) -> dict[str, Verified]:
    """`verified` from the stack outputs, per script; anything malformed is left out (that Worker is
    then read whole)."""
    raw = (outputs or {}).get("verified")
    found: dict[str, Verified] = {}
    if not isinstance(raw, Mapping):
        return found
    for script, entry in raw.items():
        if not isinstance(entry, Mapping):
            continue
        version, digest, others = entry.get("version"), entry.get("digest"), entry.get("unmanaged_secrets") or {}
        if isinstance(version, str) and isinstance(digest, str) and isinstance(others, Mapping):
            found[str(script)] = Verified(version, digest, {str(k): str(v) for k, v in others.items()})
    return found
