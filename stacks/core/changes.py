"""What changes between two versions of one stack's inputs (the manifest and its stack file), in
words a reviewer reads. ONE function (`compare`) decides what changed; the text, markdown and JSON
renderings only format its result. Pure: no I/O, never a value.

Every input that can change what an apply does, or whether production may apply, is reported:
the stack file's settings (account, store, secret naming rule, backend pin, promotion source and
override) with what each one moves, every binding added, removed, retyped or repointed (to another
store secret name, another store or another account), store secrets created, deleted or updated,
external secrets that must exist before the apply, values set anew or newly needed, and the
manifest digest the promotion gate compares. "no change" means no input changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .desired_state import STORE, Binding, ByokKey, DesiredState, Slot, StoreRef, WorkerState, stack_secret_names
from .externals import external_needs
from .manifest import Manifest
from .naming import STORE_SECRET_TYPE, store_secret_resource, urn
from .stack_config import NAMESPACE, StackSettings
from .text import md_code, md_text


@dataclass(frozen=True)
class StackInputs:
    """One version of what a stack's apply is made from."""

    manifest: Manifest
    settings: StackSettings
    desired: DesiredState
    # secret -> a digest of its encrypted entry in the stack file (never the value)
    values: dict[str, str] = field(default_factory=dict)
    # secret -> the same digest of its `previous` entry, while an overlap window is open
    previous: dict[str, str] = field(default_factory=dict)

    def fingerprint(self, secret: str, slot: Slot) -> str | None:
        """What a slot of a secret holds, as a digest: outside a window, the previous slot holds the
        current value."""
        if slot == "previous" and secret in self.previous:
            return self.previous[secret]
        return self.values.get(secret)


@dataclass
class SettingChange:
    key: str      # the stack file's key, e.g. "secrets-plane:accountId"
    before: str
    after: str
    effect: str   # what the change does, in words


@dataclass
class WorkerChange:
    worker: str
    script: str
    status: str  # added | removed | changed | moved (to another account)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)     # "NAME: secret_text -> secrets_store_secret"
    repointed: list[str] = field(default_factory=list)   # "NAME: store S/A_STAGING -> store S/B_STAGING"
    rotated: list[str] = field(default_factory=list)     # secret_text bindings whose value is set anew
    write: str = ""  # secrets-bulk | settings | none
    versions: int = 0


@dataclass
class StackChanges:
    stack: str
    status: str = "changed"  # changed | added | removed
    settings: list[SettingChange] = field(default_factory=list)
    backend: tuple[str, str] = ("-", "-")
    mode: tuple[str, str] = ("-", "-")
    digest: tuple[str, str] = ("-", "-")
    store: str = ""  # what happens to the store itself, if anything
    workers: list[WorkerChange] = field(default_factory=list)
    store_created: list[str] = field(default_factory=list)
    store_deleted: list[str] = field(default_factory=list)
    store_updated: list[str] = field(default_factory=list)  # "NAME: scopes a -> b", "NAME: comment"
    externals: list[str] = field(default_factory=list)      # newly needed: where each must exist, how to make it
    values_set: list[str] = field(default_factory=list)     # set anew in the stack file (a rotation if they differ)
    values_needed: list[str] = field(default_factory=list)  # needed now, not set in the stack file
    values_no_longer_needed: list[str] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)       # overlap windows opened, moved or closed
    metadata: list[str] = field(default_factory=list)       # manifest fields that write nothing (digest only)
    hazards: list[str] = field(default_factory=list)        # what the apply would break, and how to avoid it
    byok: list[str] = field(default_factory=list)           # AI Gateway BYOK keys made, removed, changed, rotated

    @property
    def writes(self) -> int:
        """Worker writes: one per Worker per account it is written in (each makes one version)."""
        return self.versions

    @property
    def versions(self) -> int:
        return sum(w.versions for w in self.workers)

    @property
    def empty(self) -> bool:
        return self.status == "changed" and not (
            self.settings or self.workers or self.store or self.store_created or self.store_deleted
            or self.store_updated or self.externals or self.values_set or self.values_needed
            or self.values_no_longer_needed or self.overlaps or self.metadata or self.hazards or self.byok
            or self.backend[0] != self.backend[1]
            or self.digest[0] != self.digest[1])

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(writes=self.writes, versions=self.versions, empty=self.empty)
        return data


# ---- what a binding is, where it points ---------------------------------------------------------

def _store_text(store: StoreRef | None) -> str:
    if store is None:
        return "no store"
    return f"store {store.id}" if store.mode == "adopt" else f"store '{store.name}' (created by the stack)"


def _target(b: Binding, desired: DesiredState) -> str:
    """Where a binding points: its kind and, for a store binding, the store and secret name."""
    if b.kind == STORE:
        return f"{_store_text(desired.store)}/{b.store_secret_name}"
    return "fallback copy" if b.role == "fallback" else "external secret_text" if b.external else "secret_text"


def _owned_write(bindings: list[Binding]) -> str:
    """The write that adds or removes these bindings on a Worker: settings when a store binding
    is among them, secrets-bulk for secret_text it owns, none for external ones only."""
    owned = [b for b in bindings if not b.external or b.kind == STORE]
    if not owned:
        return "none"
    return "settings" if any(b.kind == STORE for b in owned) else "secrets-bulk"


def _worker_change(base: WorkerState | None, head: WorkerState | None, base_d: DesiredState | None,
                   head_d: DesiredState, rotated: set[tuple[str, Slot]]) -> WorkerChange | None:
    if head is None:
        assert base is not None and base_d is not None
        write = _owned_write(list(base.bindings))
        return WorkerChange(base.worker, base.script_name, "removed", removed=[b.name for b in base.bindings],
                            write=write, versions=int(write != "none"))
    if base is None or base_d is None:
        write = _owned_write(list(head.bindings))
        return WorkerChange(head.worker, head.script_name, "added",
                            added=[f"{b.name} ({_target(b, head_d)})" for b in head.bindings],
                            write=write, versions=int(write != "none"))
    if base_d.account_id != head_d.account_id:
        # A Worker in another account is another Worker: written there, removed from the first.
        write = _owned_write(list(head.bindings) + list(base.bindings))
        return WorkerChange(head.worker, head.script_name, "moved",
                            added=[f"{b.name} ({_target(b, head_d)}) in account {head_d.account_id}" for b in head.bindings],
                            removed=[f"{b.name} from account {base_d.account_id}" for b in base.bindings],
                            write=write, versions=2 * int(write != "none"))
    olds = {b.name: b for b in base.bindings}
    news = {b.name: b for b in head.bindings}
    change = WorkerChange(head.worker, head.script_name, "changed")
    touched: list[Binding] = []
    for name in sorted(set(news) - set(olds)):
        change.added.append(f"{name} ({_target(news[name], head_d)})")
        touched.append(news[name])
    for name in sorted(set(olds) - set(news)):
        change.removed.append(name)
        touched.append(olds[name])
    for name in sorted(set(olds) & set(news)):
        old, new = olds[name], news[name]
        before, after = _target(old, base_d), _target(new, head_d)
        if old.kind != new.kind:
            change.retyped.append(f"{name}: {old.kind} -> {new.kind}" + (f" ({after})" if new.kind == STORE else ""))
            touched.append(new if new.kind == STORE else old)
        elif before != after:
            change.repointed.append(f"{name}: {before} -> {after}")
            touched.append(new)
        elif new.needs_value and (new.secret, new.slot) in rotated:
            change.rotated.append(name)
            touched.append(new)
    if not (change.added or change.removed or change.retyped or change.repointed or change.rotated):
        return None
    change.write = _owned_write(touched)
    change.versions = int(change.write != "none")
    return change


# ---- the stack file ------------------------------------------------------------------------------

def _setting_changes(base: StackSettings, head: StackSettings, base_d: DesiredState,
                     head_d: DesiredState, manifest_backend: str) -> list[SettingChange]:
    out: list[SettingChange] = []

    def key(name: str) -> str:
        return f"{NAMESPACE}:{name}"

    if base.account_id != head.account_id:
        out.append(SettingChange(key("accountId"), base.account_id, head.account_id,
                                 f"every Worker binding and store secret of the stack moves to account "
                                 f"{head.account_id}: written there, then removed from {base.account_id}"))
    if base.store != head.store:
        out.append(SettingChange(key("store"), _store_setting(base), _store_setting(head),
                                 "every store binding of the stack points at the new store"
                                 if head.store is not None else "the stack names no store any more"))
    if base.secret_name != head.secret_name:
        out.append(SettingChange(key("secretName"), base.secret_name, head.secret_name,
                                 "every store secret of the stack gets a new name: created under it, bindings "
                                 "repointed, the old ones deleted"))
    if base.backend != head.backend:
        moves = f"the stack's backend flag is now {head_d.backend}" if head_d.backend != base_d.backend else \
            "the stack's backend flag stays " + head_d.backend
        what = (f"pinned {head.backend}" if head.backend else f"unpinned (follows the manifest's `backend: "
                                                                f"{manifest_backend}`)")
        out.append(SettingChange(key("backend"), base.backend or "(not pinned)", head.backend or "(not pinned)",
                                 f"{what}; {moves}"))
    if base.promote_from != head.promote_from:
        effect = (f"applies only a manifest and backend that {head.promote_from} already runs" if head.promote_from
                  else "NO promotion gate any more: this stack applies whatever it is given")
        out.append(SettingChange(key("promoteFrom"), base.promote_from or "(none)", head.promote_from or "(none)",
                                 effect))
    if base.promotion_override != head.promotion_override:
        effect = ("the promotion gate is OVERRIDDEN for every apply until this setting is removed"
                  if head.promotion_override else "the promotion gate applies again")
        out.append(SettingChange(key("promotionOverride"), base.promotion_override or "(none)",
                                 head.promotion_override or "(none)", effect))
    return out


def _store_setting(settings: StackSettings) -> str:
    if settings.store is None:
        return "(none)"
    if settings.store.adopt:
        return f"adopt {settings.store.adopt}"
    return f"create '{settings.store.create}'"


def _store_line(base_d: DesiredState | None, head_d: DesiredState) -> str:
    """What happens to the store itself."""
    before, after = base_d.store if base_d else None, head_d.store
    moved = base_d is not None and base_d.account_id != head_d.account_id
    if after == before and not moved:
        return ""
    if after is None:
        return f"the stack stops using {_store_text(before)} (the plane never deletes a store)"
    if after.mode == "create":
        return (f"creates store '{after.name}' in account {head_d.account_id} (protected, never deleted; Cloudflare "
                "allows one store per account)")
    return f"adopts store {after.id} in account {head_d.account_id} (read-only: looked up, never changed or deleted)"


# ---- the manifest's metadata -------------------------------------------------------------------

def _store_updates(base_d: DesiredState, head_d: DesiredState) -> list[str]:
    """Store secrets kept under the same name whose scopes or comment change: updated in place."""
    olds = {s.store_secret_name: s for s in base_d.store_secrets if not s.external}
    out = []
    for spec in head_d.store_secrets:
        old = olds.get(spec.store_secret_name)
        if spec.external or old is None:
            continue
        if old.scopes != spec.scopes:
            out.append(f"{spec.store_secret_name}: scopes {','.join(old.scopes)} -> {','.join(spec.scopes)}")
        if old.comment != spec.comment:
            out.append(f"{spec.store_secret_name}: comment changed")
    return out


# Secret fields whose change shows through the bindings (and so is reported there).
_BINDING_FIELDS = ("backend", "fallback", "external")


def _metadata(base_m: Manifest, head_m: Manifest, stack: str) -> list[str]:
    """Manifest fields of the secrets and Workers this stack holds that change, field by field.
    On their own they write nothing (the digest changes; a store comment made from them is
    reported as a store update)."""
    out: list[str] = []
    held = sorted(set(stack_secret_names(base_m, stack)) & set(stack_secret_names(head_m, stack)))
    for name in held:
        old, new = base_m.secrets[name].model_dump(), head_m.secrets[name].model_dump()
        for fld in sorted(k for k in new if k not in _BINDING_FIELDS and old.get(k) != new.get(k)):
            before, after = old.get(fld), new.get(fld)
            if fld == "scopes":
                before, after = ",".join(sorted(before or [])), ",".join(sorted(after or []))
                if before == after:
                    continue
            out.append(f"{name}: {fld} {before} -> {after}")
    for wname in sorted(set(base_m.workers) & set(head_m.workers)):
        if stack not in head_m.workers[wname].stacks:
            continue
        old, new = base_m.workers[wname].model_dump(), head_m.workers[wname].model_dump()
        out += [f"Worker {wname}: {fld} changed" for fld in ("description", "health_url", "wrangler")
                if old.get(fld) != new.get(fld)]
    return out


# ---- the one comparison --------------------------------------------------------------------------

def compare(base: StackInputs | None, head: StackInputs | None, stack: str) -> StackChanges:
    """Everything that changes for `stack` from `base` to `head` (None: the stack file does not
    exist on that side)."""
    if head is None:
        assert base is not None
        return StackChanges(stack, "removed", backend=(base.desired.backend, "-"), mode=(base.desired.mode, "-"),
                            digest=(base.desired.manifest_digest, "-"))
    head_d = head.desired
    base_d = base.desired if base else None
    changes = StackChanges(stack, "changed" if base else "added",
                           backend=(base_d.backend if base_d else "-", head_d.backend),
                           mode=(base_d.mode if base_d else "-", head_d.mode),
                           digest=(base_d.manifest_digest if base_d else "-", head_d.manifest_digest))
    if base is not None and base_d is not None:
        changes.settings = _setting_changes(base.settings, head.settings, base_d, head_d, head.manifest.backend)
    changes.store = _store_line(base_d, head_d)

    # Values set anew in the stack file: a rotation if the value differs (fingerprints only).
    old_values = base.values if base else {}
    changes.values_set = sorted(n for n, fp in head.values.items() if old_values.get(n) != fp) if base else []
    # A slot is rewritten when what it holds changes: a rotation with overlap moves the old value
    # into the previous slot, a retirement puts the current one there.
    rotated: set[tuple[str, Slot]] = set()
    if base is not None:
        slots = {(s.secret, s.slot) for s in head_d.store_secrets}
        slots |= {(b.secret, b.slot) for w in head_d.workers for b in w.bindings}
        # A window opening moves the current value into the previous slot, which already held it
        # (ciphertexts differ, values do not): only the current slot is written.
        opened = set(head.previous) - set(base.previous)
        rotated = {(secret, slot) for secret, slot in slots
                   if head.fingerprint(secret, slot) not in (None, base.fingerprint(secret, slot))
                   and not (slot == "previous" and secret in opened)}
        changes.overlaps = _overlap_changes(base_d, head_d)

    old_workers = {w.script_name: w for w in base_d.workers} if base_d else {}
    new_workers = {w.script_name: w for w in head_d.workers}
    for script in sorted(set(old_workers) | set(new_workers)):
        change = _worker_change(old_workers.get(script), new_workers.get(script), base_d, head_d, rotated)
        if change is not None:
            changes.workers.append(change)

    moved = base_d is not None and base_d.account_id != head_d.account_id
    store_moved = moved or (base_d is not None and base_d.store != head_d.store)

    def store_names(d: DesiredState | None) -> set[str]:
        return {s.store_secret_name for s in d.store_secrets if not s.external} if d else set()

    old_store, new_store = store_names(base_d), store_names(head_d)
    if store_moved:
        # Another store (or account) holds new secrets: all of them are created there.
        changes.store_created = sorted(new_store)
        changes.store_deleted = sorted(old_store)
    else:
        changes.store_created = sorted(new_store - old_store)
        changes.store_deleted = sorted(old_store - new_store)
    if base is not None and base_d is not None:
        if not store_moved:
            changes.store_updated = _store_updates(base_d, head_d)
        changes.store_updated += [f"{spec.store_secret_name}: value set anew (no Worker version)"
                                  for spec in head_d.store_secrets
                                  if not spec.external and (spec.secret, spec.slot) in rotated
                                  and spec.store_secret_name not in changes.store_created]
        changes.metadata = _metadata(base.manifest, head.manifest, stack)
        if not store_moved:
            changes.hazards = _handed_over(base_d, head_d, stack)

    before = {(n.secret, n.kind, n.name, n.where(base_d)) for n in external_needs(base_d)} if base_d else set()
    for need in external_needs(head_d):
        if (need.secret, need.kind, need.name, need.where(head_d)) not in before:
            changes.externals.append(f"{need.secret}: must already exist {need.where(head_d)} (create it: "
                                     f"{'; '.join(need.commands(head_d))})")

    changes.byok = byok_changes(base_d, head_d, set(changes.values_set))
    old_needed = set(base_d.needed_values) if base_d else set()
    present, was_present = set(head.settings.value_names), set(base.settings.value_names) if base else set()
    # Needed and not in the stack file: newly needed, or taken out of the file in this change.
    changes.values_needed = sorted(n for n in head_d.needed_values
                                   if n not in present and (n not in old_needed or n in was_present))
    changes.values_no_longer_needed = sorted(old_needed - set(head_d.needed_values))
    return changes


def _overlap_changes(base_d: DesiredState | None, head_d: DesiredState) -> list[str]:
    """Overlap windows that open, move or close in this change, in words."""
    out = []
    for new in head_d.overlaps:
        old = base_d.overlap(new.secret) if base_d else None
        before, after = (old.retires if old else None), new.retires
        if before == after:
            continue
        if after is None:
            out.append(f"{new.secret}: window closed, the previous value retires now (_PREVIOUS takes the current one)")
        elif before is None:
            out.append(f"{new.secret}: window opened, the previous value stays readable until {after}")
        else:
            out.append(f"{new.secret}: window now ends on {after} (was {before})")
    return out


def byok_changes(base_d: DesiredState | None, head_d: DesiredState, rotated: set[str]) -> list[str]:
    """Each AI Gateway BYOK key made, removed, reconfigured or set anew, with its gateway: a key is
    its store secret and its provider config; a new value rewrites the secret only."""
    def keyed(d: DesiredState | None) -> dict[str, ByokKey]:
        return {k.store_secret_name: k for k in d.byok_keys} if d else {}

    def label(k: ByokKey) -> str:
        return f"gateway {k.gateway_id} {k.provider_slug}/{k.alias} <- {k.secret}"

    old, new = keyed(base_d), keyed(head_d)
    out = [f"{label(new[n])}: created (store secret {n}, then the provider config)" for n in sorted(set(new) - set(old))]
    out += [f"{label(old[n])}: removed (the provider config and store secret {n} are deleted)"
            for n in sorted(set(old) - set(new))]
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        if (before.default_config, before.rate_limit, before.rate_limit_period) != \
                (after.default_config, after.rate_limit, after.rate_limit_period):
            out.append(f"{label(after)}: provider config replaced (default {str(after.default_config).lower()}, "
                       f"rate limit {after.rate_limit or 'none'}"
                       + (f" per {after.rate_limit_period}" if after.rate_limit else "") + ")")
        if before.secret != after.secret:
            out.append(f"{label(after)}: now holds {after.secret} instead of {before.secret} (its value is written)")
        elif after.secret in rotated:
            out.append(f"{label(after)}: value set anew (store secret {name} only; no config write, no Worker version)")
    return out


def _handed_over(base_d: DesiredState, head_d: DesiredState, stack: str) -> list[str]:
    """A store secret the plane made, now marked external: removing it from the program deletes
    it, while the stack binds it by name. Pulumi stops managing a resource without deleting it
    only through `pulumi state delete`, so say that, before the apply."""
    owned = {s.store_secret_name: s for s in base_d.store_secrets if not s.external}
    out = []
    for spec in head_d.store_secrets:
        if spec.external and spec.store_secret_name in owned:
            resource = urn(stack, STORE_SECRET_TYPE, store_secret_resource(owned[spec.store_secret_name].secret))
            out.append(f"{spec.store_secret_name}: the plane made it and this apply DELETES it, yet the stack now "
                       f"binds it as external: its Workers would lose it. Hand it over without deleting it first: "
                       f"pulumi state delete '{resource}' --stack {stack}")
    return out


# ---- renderings --------------------------------------------------------------------------------

def _headline(c: StackChanges) -> str:
    return (f"{c.writes} Worker write(s), {c.versions} Worker version(s), {len(c.store_created)} store secret(s) "
            f"created, {len(c.store_deleted)} deleted, {len(c.store_updated)} updated")


def render_text(c: StackChanges) -> str:
    if c.status == "removed":
        return (f"stack {c.stack}: its stack file is removed: nothing is applied to it any more, and what it made stays "
                f"on Cloudflare until `pulumi destroy --stack {c.stack}`")
    if c.empty:
        return f"stack {c.stack}: no change"
    lines = [f"stack {c.stack}{' (new)' if c.status == 'added' else ''}: {_headline(c)}"]
    lines += [f"  WARNING {item}" for item in c.hazards]
    for s in c.settings:
        lines.append(f"  setting {s.key}: {s.before} -> {s.after}: {s.effect}")
    if c.store:
        lines.append(f"  store: {c.store}")
    if c.backend[0] != c.backend[1]:
        lines.append(f"  backend flag: {c.backend[0]} -> {c.backend[1]}")
    if c.mode[0] != c.mode[1]:
        lines.append(f"  credentials: {c.mode[0]} -> {c.mode[1]}")
    for w in c.workers:
        lines.append(f"  Worker {w.worker} ({w.script}) {w.status}: {w.write} write, {w.versions} version(s)")
        for label, items in (("+", w.added), ("-", w.removed), ("~", w.retyped), ("~", w.repointed)):
            lines += [f"    {label} {item}" for item in items]
        lines += [f"    ~ {name}: value set anew (a rotation if it differs)" for name in w.rotated]
    for title, items in (("store secrets created", c.store_created), ("store secrets deleted", c.store_deleted),
                         ("store secrets updated", c.store_updated)):
        if items:
            lines.append(f"  {title}: {', '.join(items)}")
    for item in c.externals:
        lines.append(f"  external {item}")
    lines += [f"  AI Gateway BYOK {item}" for item in c.byok]
    if c.values_set:
        lines.append(f"  values set anew: {', '.join(c.values_set)}")
    if c.values_needed:
        lines.append(f"  values newly needed (set them before the apply: python -m stacks values load --stack {c.stack} "
                     f"FILE): {', '.join(c.values_needed)}")
    if c.values_no_longer_needed:
        lines.append(f"  values no longer needed: {', '.join(c.values_no_longer_needed)}")
    lines += [f"  overlap {item}" for item in c.overlaps]
    lines += [f"  manifest field: {item}" for item in c.metadata]
    if c.digest[0] != c.digest[1]:
        lines.append(f"  manifest digest: {c.digest[0][:12]} -> {c.digest[1][:12]} (a stack promoted from another "
                     "applies it only once that one runs it)")
    return "\n".join(lines)


def render_markdown(c: StackChanges) -> str:
    """The pull-request comment's part for one stack. Every name and every manifest or stack-file
    text is in a code span (no HTML comment can hide what follows, no `@team` is pinged), and the
    prose around them is escaped (core/text.py)."""
    code, text = md_code, md_text
    stack = f"**{code(c.stack)}**"
    if c.status == "removed":
        return (f"{stack}: stack file removed: nothing is applied to it any more; what it made stays until "
                f"{code(f'pulumi destroy --stack {c.stack}')}.")
    if c.empty:
        return f"{stack}: no change to credentials."
    lines = [f"{stack}{' (new stack)' if c.status == 'added' else ''}: {text(_headline(c))}."]
    lines += [f"- :warning: **{code(item.split(':', 1)[0])}**: {code(item.split(':', 1)[1].strip())}"
              for item in c.hazards]
    for s in c.settings:
        lines.append(f"- Setting {code(s.key)}: {code(s.before)} → {code(s.after)}: {text(s.effect)}")
    if c.store:
        lines.append(f"- Store: {text(c.store)}")
    if c.backend[0] != c.backend[1]:
        lines.append(f"- Backend flag: {code(c.backend[0])} → {code(c.backend[1])}")
    if c.mode[0] != c.mode[1]:
        lines.append(f"- Credentials: {text(c.mode[0])} → {text(c.mode[1])}")
    for w in c.workers:
        detail = [f"gains {code(x)}" for x in w.added] + [f"loses {code(x)}" for x in w.removed]
        detail += [f"retypes {code(x)}" for x in w.retyped] + [f"repoints {code(x)}" for x in w.repointed]
        detail += [f"sets {code(x)} anew" for x in w.rotated]
        lines.append(f"- Worker {code(w.worker)} ({code(w.script)}) {text(w.status)}: {'; '.join(detail)} "
                     f"({text(w.write)} write, {w.versions} version(s))")
    for title, items in (("Store secrets created", c.store_created), ("Store secrets deleted", c.store_deleted),
                         ("Store secrets updated", c.store_updated)):
        if items:
            lines.append(f"- {title}: {', '.join(code(n) for n in items)}")
    lines += [f"- External {code(item.split(':', 1)[0])}: {code(item.split(':', 1)[1].strip())}" for item in c.externals]
    lines += [f"- AI Gateway BYOK {code(item.split(': ', 1)[0])}: {code(item.split(': ', 1)[1])}" for item in c.byok]
    if c.values_set:
        lines.append(f"- Values set anew (a rotation if they differ): {', '.join(code(n) for n in c.values_set)}")
    if c.values_needed:
        lines.append(f"- Values newly needed (set them before the apply): {', '.join(code(n) for n in c.values_needed)}")
    if c.values_no_longer_needed:
        lines.append(f"- Values no longer needed: {', '.join(code(n) for n in c.values_no_longer_needed)}")
    lines += [f"- Overlap {code(item.split(':', 1)[0])}: {text(item.split(':', 1)[1].strip())}" for item in c.overlaps]
    lines += [f"- Manifest field: {code(item)}" for item in c.metadata]
    if c.digest[0] != c.digest[1]:
        lines.append(f"- Manifest digest {code(c.digest[0][:12])} → {code(c.digest[1][:12])}")
    return "\n".join(lines)
