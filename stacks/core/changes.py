"""What changes between two desired states of one stack, in words a reviewer reads: Workers
added or removed, bindings added, removed, retyped or repointed per Worker, store secrets created
or deleted, values newly needed, and the writes and Worker versions the apply will make. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .desired_state import STORE, Binding, DesiredState, WorkerState


@dataclass
class WorkerChange:
    worker: str
    script: str
    status: str  # added | removed | changed
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)     # "NAME: secret_text -> secrets_store_secret"
    repointed: list[str] = field(default_factory=list)   # "NAME: A_STAGING -> B_STAGING"
    write: str = ""  # secrets-bulk | settings | none

    @property
    def versions(self) -> int:
        return 0 if self.write == "none" else 1


@dataclass
class StackChanges:
    stack: str
    backend: tuple[str, str]
    mode: tuple[str, str]
    workers: list[WorkerChange] = field(default_factory=list)
    store_created: list[str] = field(default_factory=list)
    store_deleted: list[str] = field(default_factory=list)
    values_needed: list[str] = field(default_factory=list)
    values_no_longer_needed: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return sum(1 for w in self.workers if w.write != "none")

    @property
    def versions(self) -> int:
        return sum(w.versions for w in self.workers)

    @property
    def empty(self) -> bool:
        return not (self.workers or self.store_created or self.store_deleted or self.values_needed
                    or self.values_no_longer_needed or self.backend[0] != self.backend[1])

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(writes=self.writes, versions=self.versions)
        for w in data["workers"]:
            w["versions"] = 0 if w["write"] == "none" else 1
        return data


def _describe(b: Binding) -> str:
    if b.kind == STORE:
        return f"store {b.store_secret_name}"
    return "fallback copy" if b.role == "fallback" else "external secret_text" if b.external else "secret_text"


def _worker_change(base: WorkerState | None, head: WorkerState | None) -> WorkerChange | None:
    if head is None and base is None:
        return None
    if base is None:
        assert head is not None
        writes_store = any(b.kind == STORE for b in head.bindings)
        return WorkerChange(head.worker, head.script_name, "added", added=[f"{b.name} ({_describe(b)})" for b in head.bindings],
                            write="settings" if writes_store else "secrets-bulk" if head.bindings else "none")
    if head is None:
        owned = [b for b in base.bindings if not b.external]
        return WorkerChange(base.worker, base.script_name, "removed", removed=[b.name for b in base.bindings],
                            write=("settings" if any(b.kind == STORE for b in owned) else "secrets-bulk") if owned else "none")
    olds = {b.name: b for b in base.bindings}
    news = {b.name: b for b in head.bindings}
    change = WorkerChange(head.worker, head.script_name, "changed")
    settings = False
    for name in sorted(set(news) - set(olds)):
        change.added.append(f"{name} ({_describe(news[name])})")
        settings = settings or news[name].kind == STORE
    for name in sorted(set(olds) - set(news)):
        change.removed.append(name)
        settings = settings or olds[name].kind == STORE
    for name in sorted(set(olds) & set(news)):
        old, new = olds[name], news[name]
        if old.kind != new.kind:
            change.retyped.append(f"{name}: {old.kind} -> {new.kind}")
            settings = True
        elif old.kind == STORE and old.store_secret_name != new.store_secret_name:
            change.repointed.append(f"{name}: {old.store_secret_name} -> {new.store_secret_name}")
            settings = True
        elif old.external != new.external and not new.external:
            change.added.append(f"{name} (now owned: its value is written)")
    if not (change.added or change.removed or change.retyped or change.repointed):
        return None
    value_only = [n for n in change.added + change.removed if "external" not in n]
    change.write = "settings" if settings else "secrets-bulk" if value_only else "none"
    return change


def compare(base: DesiredState | None, head: DesiredState) -> StackChanges:
    """`base` None: the stack is new."""
    changes = StackChanges(head.stack, (base.backend if base else "-", head.backend),
                           (base.mode if base else "-", head.mode))
    old_workers = {w.script_name: w for w in base.workers} if base else {}
    new_workers = {w.script_name: w for w in head.workers}
    for script in sorted(set(old_workers) | set(new_workers)):
        change = _worker_change(old_workers.get(script), new_workers.get(script))
        if change is not None:
            changes.workers.append(change)
    old_store = {s.store_secret_name for s in base.store_secrets if not s.external} if base else set()
    new_store = {s.store_secret_name for s in head.store_secrets if not s.external}
    changes.store_created = sorted(new_store - old_store)
    changes.store_deleted = sorted(old_store - new_store)
    old_needed = set(base.needed_values) if base else set()
    changes.values_needed = sorted(set(head.needed_values) - old_needed)
    changes.values_no_longer_needed = sorted(old_needed - set(head.needed_values))
    return changes


def render_text(c: StackChanges) -> str:
    if c.empty:
        return f"stack {c.stack}: no change"
    lines = [f"stack {c.stack}: {c.writes} Worker write(s), {c.versions} Worker version(s), "
             f"{len(c.store_created)} store secret(s) created, {len(c.store_deleted)} deleted"]
    if c.backend[0] != c.backend[1]:
        lines.append(f"  backend flag: {c.backend[0]} -> {c.backend[1]}")
    if c.mode[0] != c.mode[1]:
        lines.append(f"  credentials: {c.mode[0]} -> {c.mode[1]}")
    for w in c.workers:
        lines.append(f"  Worker {w.worker} ({w.script}) {w.status}: {w.write} write, {w.versions} version")
        for label, items in (("+", w.added), ("-", w.removed), ("~", w.retyped), ("~", w.repointed)):
            lines += [f"    {label} {item}" for item in items]
    if c.store_created:
        lines.append(f"  store secrets created: {', '.join(c.store_created)}")
    if c.store_deleted:
        lines.append(f"  store secrets deleted: {', '.join(c.store_deleted)}")
    if c.values_needed:
        lines.append(f"  values newly needed (set them before the apply): {', '.join(c.values_needed)}")
    if c.values_no_longer_needed:
        lines.append(f"  values no longer needed: {', '.join(c.values_no_longer_needed)}")
    return "\n".join(lines)


def render_markdown(c: StackChanges) -> str:
    if c.empty:
        return f"**{c.stack}**: no change to credentials."
    lines = [f"**{c.stack}**: {c.writes} Worker write(s), {c.versions} Worker version(s), "
             f"{len(c.store_created)} store secret(s) created, {len(c.store_deleted)} deleted."]
    if c.backend[0] != c.backend[1]:
        lines.append(f"- Backend flag: `{c.backend[0]}` → `{c.backend[1]}`")
    if c.mode[0] != c.mode[1]:
        lines.append(f"- Credentials: {c.mode[0]} → {c.mode[1]}")
    for w in c.workers:
        detail = []
        detail += [f"gains `{x}`" for x in w.added]
        detail += [f"loses `{x}`" for x in w.removed]
        detail += [f"retypes `{x}`" for x in w.retyped]
        detail += [f"repoints `{x}`" for x in w.repointed]
        lines.append(f"- Worker **{w.worker}** (`{w.script}`) {w.status}: {'; '.join(detail)} "
                     f"({w.write} write, {w.versions} version)")
    if c.store_created:
        lines.append(f"- Store secrets created: {', '.join(f'`{n}`' for n in c.store_created)}")
    if c.store_deleted:
        lines.append(f"- Store secrets deleted: {', '.join(f'`{n}`' for n in c.store_deleted)}")
    if c.values_needed:
        lines.append(f"- Values newly needed (set them before the apply): {', '.join(f'`{n}`' for n in c.values_needed)}")
    if c.values_no_longer_needed:
        lines.append(f"- Values no longer needed: {', '.join(f'`{n}`' for n in c.values_no_longer_needed)}")
    return "\n".join(lines)
