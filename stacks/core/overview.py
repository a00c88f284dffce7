"""Every stack at once: per Worker and binding, its backend in each stack; per stack, its store,
pin and naming rule; per secret, where it lives. Built from the same desired states `plan`
realizes (one per stack), so the two cannot disagree. Pure: names and kinds, never a value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .desired_state import STORE, DesiredState
from .estate import Estate
from .naming import fallback_binding_name
from .stack_config import StoreSetting

# What a binding is in one stack (a cell of the overview).
STORE_KIND = "store"
STORE_EXTERNAL = "store (external)"
LEGACY = "legacy"
LEGACY_EXTERNAL = "legacy (external)"
KINDS = (STORE_KIND, STORE_EXTERNAL, LEGACY, LEGACY_EXTERNAL)


@dataclass
class StackColumn:
    stack: str
    account: str
    backend: str          # what the flag says for the stack (its pin, else the manifest's)
    pin: str | None       # the stack's own `secrets-plane:backend`, if any
    mode: str             # legacy | store | mixed: where its credentials live
    store: str            # "adopt <id>", "create '<name>'", or "none"; "(not used)" after one nothing is on
    secret_name: str      # the store secret naming rule
    promote_from: str | None
    store_secrets: int
    workers: int


@dataclass
class Cell:
    kind: str             # one of KINDS
    copy: bool = False    # a fallback copy (<binding>_FALLBACK, secret_text) beside it
    target: str = ""      # the store secret name, for a store binding
    copy_binding: str = ""  # the copy's binding name, the one the Worker's code reads when the store fails

    def label(self) -> str:
        return self.kind + (f" + copy {self.copy_binding}" if self.copy else "")


@dataclass
class BindingRow:
    worker: str
    binding: str
    secret: str
    cells: dict[str, Cell | None] = field(default_factory=dict)  # stack -> cell (None: not bound there)


@dataclass
class SecretRow:
    secret: str
    owner: str
    external: bool
    places: dict[str, str] = field(default_factory=dict)  # stack -> "store NAME", "Workers", "store + Workers", ""


@dataclass
class Overview:
    stacks: list[StackColumn]
    scripts: dict[str, dict[str, str]]  # worker -> stack -> script name
    bindings: list[BindingRow]
    secrets: list[SecretRow]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _store_text(setting: StoreSetting | None, desired: DesiredState) -> str:
    """The store the stack file names, used or not: a legacy stack that adopts one has a store."""
    if setting is None:
        return "none"
    text = f"adopt {setting.adopt}" if setting.adopt else f"create '{setting.create}'"
    return text if desired.store is not None else text + " (not used: nothing of the stack is on it)"


def build_overview(estate: Estate) -> Overview:
    names = sorted(estate.stacks)
    desired = {s: estate.desired_state(s) for s in names}
    columns = []
    for s in names:
        settings = estate.stacks[s].settings
        d = desired[s]
        columns.append(StackColumn(s, d.account_id, d.backend, settings.backend, d.mode, _store_text(settings.store, d),
                                   settings.secret_name, settings.promote_from, len(d.store_secrets), len(d.workers)))
    rows: dict[tuple[str, str], BindingRow] = {}
    scripts: dict[str, dict[str, str]] = {}
    for s in names:
        for worker in desired[s].workers:
            scripts.setdefault(worker.worker, {})[s] = worker.script_name
            copies = {b.name for b in worker.bindings if b.role == "fallback"}
            for b in worker.bindings:
                if b.role == "fallback":
                    continue
                row = rows.setdefault((worker.worker, b.name), BindingRow(worker.worker, b.name, b.secret))
                if b.kind == STORE:
                    kind = STORE_EXTERNAL if estate.manifest.manifest.secrets[b.secret].external else STORE_KIND
                else:
                    kind = LEGACY_EXTERNAL if b.external else LEGACY
                copy_binding = fallback_binding_name(b.name)
                copy = copy_binding in copies
                row.cells[s] = Cell(kind, copy, b.store_secret_name or "", copy_binding if copy else "")
    for row in rows.values():
        for s in names:
            row.cells.setdefault(s, None)
    secrets = []
    m = estate.manifest.manifest
    held = sorted({row.secret for row in rows.values()} | {x.secret for d in desired.values() for x in d.store_secrets}
                  | {k.secret for d in desired.values() for k in d.byok_keys})
    for name in held:
        spec = m.secrets[name]
        place = SecretRow(name, spec.owner, spec.external)
        for s in names:
            d = desired[s]
            in_store = d.store_secret(name)
            on_workers = sorted({w.script_name for w, b in d.holders(name) if b.kind != STORE})
            parts = []
            if in_store is not None:
                parts.append(f"store {in_store.store_secret_name}")
            if on_workers:
                parts.append(f"Worker secret on {len(on_workers)} Worker(s)")
            parts += [f"AI Gateway {k.gateway_id} {k.provider_slug}/{k.alias} (store {k.store_secret_name})"
                      for k in d.byok_for(name)]
            place.places[s] = " + ".join(parts)
        secrets.append(place)
    return Overview(columns, scripts, sorted(rows.values(), key=lambda r: (r.worker, r.binding)), secrets)
