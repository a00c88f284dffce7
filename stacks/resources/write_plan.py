"""What one Worker's update changes, and the bindings list each write path sends. Pure: no I/O.

Specs are the WorkerSecretBindings `bindings` input: `{name, type, secret}` plus `store_id` and
`secret_name` for store bindings, `role: "fallback"` on a fallback copy and `external: true` on a
secret_text binding whose value the plane never owns. Values arrive separately (binding name ->
plaintext); nothing here returns or formats one: results carry names only, and the bindings lists
built for a write carry values only where a value must be written.

Two write paths (ARCHITECTURE decision 8):
- value-only changes to secret_text bindings go through `secrets-bulk` (one call, one version,
  nothing else named, so no read and no race with a deploy);
- anything touching store bindings or a binding's type goes through the settings write, which
  replaces the whole list, so every other binding is sent back as `inherit`.
An unchanged secret_text value is never re-sent: the bulk path does not name it and the settings
path inherits it. A value changed out of band (`wrangler secret put`) therefore stays until the
manifest's value changes (the plane cannot read values to notice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TEXT = "secret_text"
STORE = "secrets_store_secret"
INHERIT = "inherit"
SHOWN_NAMES = 6


class BindingConflict(Exception):
    """A managed binding name is taken on the Worker by a binding the plane does not manage."""


def value_hash(value: Any) -> str:
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def spec_key(spec: Mapping[str, Any]) -> tuple[str, str, str, str, bool]:
    return (str(spec.get("name")), str(spec.get("type")), str(spec.get("store_id", "")),
            str(spec.get("secret_name", "")), bool(spec.get("external", False)))


def same_specs(a: Sequence[Mapping[str, Any]] | None, b: Sequence[Mapping[str, Any]] | None) -> bool:
    return sorted(map(spec_key, a or [])) == sorted(map(spec_key, b or []))


def owned(spec: Mapping[str, Any]) -> bool:
    """The plane owns this binding (it may write and remove it): all but external secret_text."""
    return not spec.get("external", False)


def taken(current: Mapping[str, Any] | None, spec: Mapping[str, Any], previously_managed: set[str]) -> str | None:
    """The conflict, when the binding a managed name would replace is one the plane never
    managed and not a secret (a KV namespace called CACHE, say): `CACHE (a kv_namespace binding)`.
    Every write path refuses it before anything is written (a secret of the same name is taken
    over: that is how a hand-set secret is adopted)."""
    if (current is not None and spec["name"] not in previously_managed and owned(spec)
            and current.get("type") not in (TEXT, STORE)):
        return f"{spec['name']} (a {current.get('type')} binding)"
    return None


def as_desired(bindings: Mapping[str, Mapping[str, Any]], specs: Sequence[Mapping[str, Any]],
               removed: Iterable[str]) -> bool:
    """Does a version already hold every managed binding in its desired shape, and none of those
    to remove? Shapes only: a value cannot be read back."""
    return (all(live_matches(bindings.get(spec["name"]), spec) for spec in specs if owned(spec))
            and not any(name in bindings for name in removed))


def live_matches(live: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> bool:
    if live is None or live.get("type") != spec["type"]:
        return False
    if spec["type"] == STORE:
        return bool(live.get("store_id") == spec.get("store_id") and live.get("secret_name") == spec.get("secret_name"))
    return True


def _names(names: Iterable[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:SHOWN_NAMES])
    return shown + (f" and {len(ordered) - SHOWN_NAMES} more" if len(ordered) > SHOWN_NAMES else "")


@dataclass(frozen=True)
class Changes:
    """What an update changes on one Worker, by binding name."""

    set_values: tuple[str, ...] = ()   # secret_text values to write: new bindings and new values
    rotated: tuple[str, ...] = ()      # of those, same binding with a new value
    added: tuple[str, ...] = ()        # managed bindings the Worker did not have from the plane
    removed: tuple[str, ...] = ()      # managed bindings to remove (external ones never are)
    to_store: tuple[str, ...] = ()     # secret_text -> secrets_store_secret
    to_text: tuple[str, ...] = ()      # secrets_store_secret -> secret_text
    repointed: tuple[str, ...] = ()    # store binding pointing at another store or secret name
    removed_store: tuple[str, ...] = ()
    added_store: tuple[str, ...] = ()
    primary_count: int = 0

    @property
    def empty(self) -> bool:
        return not (self.set_values or self.removed or self.to_store or self.to_text or self.repointed
                    or self.added_store)

    @property
    def needs_settings(self) -> bool:
        """Store bindings or types change: only the settings write can do it."""
        return bool(self.to_store or self.to_text or self.repointed or self.removed_store or self.added_store)

    def message(self, stack: str) -> str:
        """The `workers/message` of the version this change makes: names and kinds, never a value."""
        if self.to_store and len(self.to_store) == self.primary_count and not (self.rotated or self.removed):
            return f"secrets-plane: backend flip to store ({stack})"
        if self.to_text and len(self.to_text) == self.primary_count and not (self.rotated or self.removed):
            return f"secrets-plane: backend flip to Worker secrets ({stack})"
        parts = []
        if self.rotated:
            parts.append(f"rotate {_names(self.rotated)}")
        added = [n for n in self.added if n not in self.to_store and n not in self.to_text]
        if added:
            parts.append(f"add {_names(added)}")
        if self.removed:
            parts.append(f"remove {_names(self.removed)}")
        if self.to_store:
            parts.append(f"move {_names(self.to_store)} to the store")
        if self.to_text:
            parts.append(f"move {_names(self.to_text)} to Worker secrets")
        if self.repointed:
            parts.append(f"repoint {_names(self.repointed)}")
        return f"secrets-plane: {'; '.join(parts) or 'converge bindings'} ({stack})"


def changes(old_specs: Sequence[Mapping[str, Any]], new_specs: Sequence[Mapping[str, Any]],
            old_values: Mapping[str, Any], new_values: Mapping[str, Any]) -> Changes:
    """Compare the state's specs and values with the desired ones (names out, never values)."""
    olds = {s["name"]: s for s in old_specs}
    news = {s["name"]: s for s in new_specs}
    set_values, rotated, added, to_store, to_text, repointed, added_store = [], [], [], [], [], [], []
    for name, spec in news.items():
        old = olds.get(name)
        if old is None or (not owned(old) and owned(spec)):
            added.append(name)
        if spec["type"] == TEXT:
            if not owned(spec):
                continue
            if old is not None and old["type"] == STORE:
                to_text.append(name)
                set_values.append(name)
            elif old is None or not owned(old):
                set_values.append(name)
            elif value_hash(old_values.get(name)) != value_hash(new_values.get(name)) or name not in old_values:
                set_values.append(name)
                rotated.append(name)
        else:
            if old is None:
                added_store.append(name)
            elif old["type"] == TEXT:
                to_store.append(name)
            elif not live_matches(old, spec):
                repointed.append(name)
    removed = [n for n, s in olds.items() if n not in news and owned(s)]
    removed_store = [n for n in removed if olds[n]["type"] == STORE]
    return Changes(
        set_values=tuple(sorted(set_values)), rotated=tuple(sorted(rotated)), added=tuple(sorted(added)),
        removed=tuple(sorted(removed)), to_store=tuple(sorted(to_store)), to_text=tuple(sorted(to_text)),
        repointed=tuple(sorted(repointed)), removed_store=tuple(sorted(removed_store)),
        added_store=tuple(sorted(added_store)),
        primary_count=sum(1 for s in new_specs if s.get("role", "primary") == "primary"),
    )


def bulk_operations(chg: Changes, values: Mapping[str, str]) -> list[tuple[str, dict[str, str] | None]]:
    """The secrets-bulk operations of a value-only change: set, or `None` to delete."""
    ops: list[tuple[str, dict[str, str] | None]] = [
        (name, {"name": name, "type": TEXT, "text": values[name]}) for name in chg.set_values]
    ops += [(name, None) for name in chg.removed]
    return ops


@dataclass
class SettingsWrite:
    """One settings write: the list to send, and what its response must show."""

    bindings: list[dict[str, Any]]
    expect_managed: dict[str, dict[str, Any]] = field(default_factory=dict)
    expect_inherited: list[str] = field(default_factory=list)
    values_written: list[str] = field(default_factory=list)
    external_missing: list[str] = field(default_factory=list)
    # A store binding differs from the live one, or a binding to remove is still there.
    changes_live: bool = False

    @property
    def needed(self) -> bool:
        """False when the live Worker already is what the write would make: skip it."""
        return bool(self.values_written) or self.changes_live


def settings_write(specs: Sequence[Mapping[str, Any]], values: Mapping[str, str], live: Mapping[str, Mapping[str, Any]],
                   chg: Changes, previously_managed: set[str]) -> SettingsWrite:
    """The whole bindings list for one settings write, from the live bindings just read.

    Desired store bindings are sent whole; an owned secret_text is sent with its value when its
    value changes or the Worker lacks it, else inherited; an external one is inherited when
    present; every other live binding is inherited, except those the plane managed and no longer
    wants, which are left out (removed). Raises BindingConflict before anything is written when a
    managed name is taken by a binding the plane never managed and that is not a secret."""
    out = SettingsWrite(bindings=[])
    desired = {s["name"]: s for s in specs}
    changed = False
    for name, spec in desired.items():
        current = live.get(name)
        conflict = taken(current, spec, previously_managed)
        if conflict:
            raise BindingConflict(conflict)
        if spec["type"] == STORE:
            entry = {"type": STORE, "name": name, "store_id": spec["store_id"], "secret_name": spec["secret_name"]}
            out.bindings.append(entry)
            out.expect_managed[name] = entry
            changed = changed or not live_matches(current, spec)
        elif not owned(spec):
            if current is None:
                out.external_missing.append(name)
                continue
            out.bindings.append({"type": INHERIT, "name": name})
            out.expect_inherited.append(name)
        elif name in chg.set_values or not live_matches(current, spec):
            out.bindings.append({"type": TEXT, "name": name, "text": values[name]})
            out.expect_managed[name] = {"type": TEXT, "name": name}
            out.values_written.append(name)
        else:
            out.bindings.append({"type": INHERIT, "name": name})
            out.expect_managed[name] = {"type": TEXT, "name": name}
    for name in live:
        if name in desired:
            continue
        if name in previously_managed:
            changed = True  # still on the Worker: this write removes it
            continue
        out.bindings.append({"type": INHERIT, "name": name})
        out.expect_inherited.append(name)
    out.changes_live = changed
    return out


def missing_after(write: SettingsWrite, result: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(managed bindings the write's response lacks or shows wrong, inherited ones it dropped)."""
    wrong = [n for n, spec in write.expect_managed.items()
             if result.get(n) is None or result[n].get("type") != spec["type"]
             or (spec["type"] == STORE and not live_matches(result[n], spec))]
    dropped = [n for n in write.expect_inherited if n not in result]
    return sorted(wrong), sorted(dropped)
