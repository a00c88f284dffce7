"""The pure core: (manifest, stack settings) -> DesiredState. No Pulumi, no I/O, no values.

Everything downstream (the Pulumi component, the offline plan, canary, audit, wrangler config,
typings, the PR diff) reads a DesiredState; nothing re-derives a name or a backend from the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from .backends import Backend, resolve_backend
from .errors import PlaneError
from .manifest import Manifest
from .naming import (
    byok_secret_name,
    fallback_binding_name,
    previous_binding_name,
    previous_store_secret_name,
    script_name,
)
from .stack_config import StackSettings

BindingKind = Literal["secret_text", "secrets_store_secret"]
TEXT: BindingKind = "secret_text"
STORE: BindingKind = "secrets_store_secret"
SECRET_TYPES: tuple[BindingKind, ...] = (TEXT, STORE)  # the binding types that hold a credential
# Which value of its secret a binding (or store secret) holds: the current one, or the one before
# the last rotation of a secret with `overlap_days` (equal to the current one outside a window).
Slot = Literal["current", "previous"]


@dataclass(frozen=True)
class StoreRef:
    """`adopt` an existing store by id, or `create` one by name."""

    mode: Literal["adopt", "create"]
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class StoreSecret:
    secret: str
    store_secret_name: str
    scopes: tuple[str, ...]
    comment: str
    # External: looked up by name, never created, written or deleted by the plane.
    external: bool = False
    slot: Slot = "current"


@dataclass(frozen=True)
class ByokKey:
    """A secret used by an AI Gateway as a BYOK provider key: a store secret of its own, named as
    the gateway looks it up (`{gateway}_{provider}_{alias}`, scoped `ai_gateway`), whatever the
    name of the secret's binding store secret, and the provider config pointing at it."""

    secret: str
    gateway_id: str
    provider_slug: str
    alias: str
    default_config: bool
    store_secret_name: str
    comment: str
    rate_limit: int | None = None
    rate_limit_period: int | None = None
    scopes: tuple[str, ...] = ("ai_gateway",)


@dataclass(frozen=True)
class Binding:
    name: str
    secret: str
    kind: BindingKind
    store_secret_name: str | None = None
    # "fallback": the secret_text copy beside a store binding, read when the store fails.
    role: Literal["primary", "fallback"] = "primary"
    # External secret_text: expected on the Worker already; kept as it is, never written.
    external: bool = False
    slot: Slot = "current"
    # The binding this one derives from: a fallback copy's store binding, a previous value's binding.
    of: str | None = None

    @property
    def needs_value(self) -> bool:
        """The plane writes this binding's value (a secret_text it owns)."""
        return self.kind == TEXT and not self.external


@dataclass(frozen=True)
class WorkerState:
    worker: str
    script_name: str
    bindings: tuple[Binding, ...]

    def binding(self, name: str) -> Binding | None:
        return next((b for b in self.bindings if b.name == name), None)


@dataclass(frozen=True)
class Overlap:
    """A secret rotated with overlap: how long a previous value stays readable after a rotation,
    and, while a window is open, the day it retires (YYYY-MM-DD)."""

    secret: str
    days: int
    retires: str | None = None

    @property
    def open(self) -> bool:
        return self.retires is not None

    def describe(self) -> str:
        if self.retires is None:
            return f"{self.secret}: overlap {self.days} day(s), no window open (_PREVIOUS holds the current value)"
        return f"{self.secret}: overlap window open, the previous value retires on {self.retires}"


@dataclass(frozen=True)
class DesiredState:
    stack: str
    account_id: str
    # What the flag says for this stack (its pin, else the manifest): the promotion gate's unit.
    backend: Backend
    manifest_digest: str
    store: StoreRef | None
    store_secrets: tuple[StoreSecret, ...]
    workers: tuple[WorkerState, ...]
    overlaps: tuple[Overlap, ...] = ()

    def overlap(self, secret: str) -> Overlap | None:
        return next((o for o in self.overlaps if o.secret == secret), None)
    # AI Gateway BYOK keys, on every backend (the gateway reads the store whatever Workers bind).
    byok_keys: tuple[ByokKey, ...] = ()

    @property
    def mode(self) -> Literal["legacy", "store", "mixed"]:
        """Which worlds the stack's credentials live in: Worker secrets, the store, or both."""
        worlds = {"store" if b.kind == STORE else "legacy" for w in self.workers for b in w.bindings
                  if b.role == "primary"}
        if self.store_secrets:
            worlds.add("store")
        if len(worlds) == 2:
            return "mixed"
        return "store" if worlds == {"store"} else "legacy"

    @cached_property
    def needed_values(self) -> tuple[str, ...]:
        """Secrets whose value this stack must have: those it writes as secret_text (legacy
        bindings and fallback copies) and the store secrets it owns."""
        text = {b.secret for w in self.workers for b in w.bindings if b.needs_value}
        store = {s.secret for s in self.store_secrets if not s.external}
        byok = {k.secret for k in self.byok_keys}
        return tuple(sorted(text | store | byok))

    @cached_property
    def text_values(self) -> tuple[str, ...]:
        """Secrets whose value reaches some Worker as secret_text (the Workers size limit)."""
        return tuple(sorted({b.secret for w in self.workers for b in w.bindings if b.needs_value}))

    def store_secret(self, secret: str, slot: Slot = "current") -> StoreSecret | None:
        return next((s for s in self.store_secrets if s.secret == secret and s.slot == slot), None)

    def byok_for(self, secret: str) -> list[ByokKey]:
        """The BYOK keys holding `secret`: a new value of it rewrites each one's store secret."""
        return [k for k in self.byok_keys if k.secret == secret]

    @property
    def store_secret_count(self) -> int:
        """How many secrets this stack keeps in the account's store (its binding store secrets
        and its BYOK keys): what counts against the account's limit."""
        return len(self.store_secrets) + len(self.byok_keys)

    def holders(self, secret: str) -> list[tuple[WorkerState, Binding]]:
        """Every (Worker, binding) that carries `secret`, fallback copies included."""
        return list(self._holders.get(secret, ()))

    @cached_property
    def _holders(self) -> dict[str, list[tuple[WorkerState, Binding]]]:
        # One pass for every secret: a plan asks for each of a hundred secrets over 12,500 bindings.
        by_secret: dict[str, list[tuple[WorkerState, Binding]]] = {}
        for w in self.workers:
            for b in w.bindings:
                by_secret.setdefault(b.secret, []).append((w, b))
        return by_secret

    def rotation(self, secret: str) -> tuple[list[StoreSecret], list[WorkerState]]:
        """What a new value of `secret` rewrites: its store secrets (the current one, and the previous
        one of a secret with overlap), and every Worker holding a secret_text it owns (a legacy
        binding, a previous value or a fallback copy): one version each, both values in it."""
        stores = [s for s in self.store_secrets if s.secret == secret and not s.external]
        workers = sorted({w.worker: w for w, b in self.holders(secret) if b.needs_value}.values(),
                         key=lambda w: w.worker)
        return stores, workers

    def binding_matrix(self) -> dict[str, dict[str, str]]:
        """script name -> binding name -> kind. Names and kinds only, never values."""
        return {w.script_name: {b.name: b.kind for b in w.bindings} for w in self.workers}


def store_comment(secret: str, manifest: Manifest) -> str:
    spec = manifest.secrets[secret]
    if spec.comment:
        return spec.comment
    return f"{spec.description} | owner: {spec.owner} | provider: {spec.provider} | managed by secrets-plane"


def stack_secret_names(manifest: Manifest, stack: str) -> list[str]:
    """Secrets a stack holds: those its Workers bind, plus those another Cloudflare service
    (ai_gateway, dex, ...) uses directly. The store holds the ones the backend rule puts there."""
    bound = {
        secret
        for worker in manifest.workers.values()
        if stack in worker.stacks
        for secret in worker.binding_map().values()
    }
    other = {name for name, spec in manifest.secrets.items() if set(spec.scopes) - {"workers"}}
    return sorted(bound | other)


def secret_backend(manifest: Manifest, settings: StackSettings, secret: str) -> Backend:
    """A secret's own setting in a stack: does the stack keep it in the store regardless of how
    Workers bind it (so AI Gateway and other scopes can use it)."""
    return resolve_backend(manifest.backend, settings.backend, secret=manifest.secrets[secret].backend)


def store_secret_name_in(manifest: Manifest, settings: StackSettings, secret: str) -> str:
    """The secret's name in the stack's store: its own `store_names` entry for the stack, else the
    stack's naming rule."""
    spec = manifest.secrets.get(secret)
    explicit = spec.store_names.get(settings.stack) if spec is not None else None
    return explicit or settings.store_secret_name(secret)


def _by_name(binding: Binding) -> str:
    return binding.name


def _bindings(manifest: Manifest, settings: StackSettings, worker_backend: Backend | None, worker_fallback: bool,
              binding: str, secret: str) -> tuple[Binding, ...]:
    """What one manifest binding becomes in a stack: a store binding (and its fallback copy, if
    asked for) or a secret_text; for a secret with overlap, the same again for its previous value,
    `<BINDING>_PREVIOUS`, in the same backend (so rotations never change a Worker's shape)."""
    spec = manifest.secrets[secret]
    slots: list[tuple[str, Slot]] = [(binding, "current")]
    if spec.overlap_days is not None and not spec.external:
        slots.append((previous_binding_name(binding), "previous"))
    out: list[Binding] = []
    on_store = resolve_backend(manifest.backend, settings.backend, worker_backend, spec.backend) == "store"
    for name, slot in slots:
        of = None if slot == "current" else binding
        if on_store:
            store_name = store_secret_name_in(manifest, settings, secret)
            if slot == "previous":
                store_name = previous_store_secret_name(store_name)
            out.append(Binding(name, secret, STORE, store_name, slot=slot, of=of))
            if (spec.fallback or worker_fallback) and not spec.external:
                out.append(Binding(fallback_binding_name(name), secret, TEXT, role="fallback", slot=slot, of=name))
        else:
            out.append(Binding(name, secret, TEXT, external=spec.external, slot=slot, of=of))
    return tuple(out)


def build_desired_state(manifest: Manifest, settings: StackSettings, digest: str | None = None) -> DesiredState:
    in_store: set[str] = set()
    workers = []
    # Hundreds of Workers bind the same few secrets alike: each distinct binding is made once and
    # shared (they are frozen), which keeps a 500-Worker estate's state cheap to build and hold.
    made: dict[tuple[str, str, Backend | None, bool], tuple[Binding, ...]] = {}
    for wname in sorted(manifest.workers):
        worker = manifest.workers[wname]
        if settings.stack not in worker.stacks:
            continue
        bindings: list[Binding] = []
        for binding, secret in worker.binding_map().items():
            key = (binding, secret, worker.backend, worker.fallback)
            if key not in made:
                made[key] = _bindings(manifest, settings, worker.backend, worker.fallback, binding, secret)
            these = made[key]
            if these[0].kind == STORE:
                in_store.add(secret)
            bindings += these
        bindings.sort(key=_by_name)
        workers.append(WorkerState(wname, script_name(worker, settings.stack), tuple(bindings)))
    in_store |= {s for s in stack_secret_names(manifest, settings.stack)
                 if secret_backend(manifest, settings, s) == "store"}
    store_secrets: list[StoreSecret] = []
    for name in sorted(in_store):
        spec = manifest.secrets[name]
        current = StoreSecret(secret=name, store_secret_name=store_secret_name_in(manifest, settings, name),
                              scopes=tuple(sorted(spec.scopes)), comment=store_comment(name, manifest),
                              external=spec.external)
        store_secrets.append(current)
        if spec.overlap_days is not None and not spec.external:
            store_secrets.append(StoreSecret(
                secret=name, store_secret_name=previous_store_secret_name(current.store_secret_name),
                scopes=current.scopes, comment=f"the previous value of {current.store_secret_name} during an overlap "
                                               "window | managed by secrets-plane", slot="previous"))
    held = in_store | {b.secret for w in workers for b in w.bindings if b.slot == "previous"}
    overlaps = tuple(Overlap(name, spec.overlap_days, settings.previous.get(name))
                     for name, spec in sorted(manifest.secrets.items())
                     if spec.overlap_days is not None and not spec.external and name in held)
    byok = byok_keys(manifest, settings.stack)
    store: StoreRef | None = None
    if store_secrets or byok:
        setting = settings.store
        if setting is None:
            names = sorted({s.secret for s in store_secrets} | {k.secret for k in byok})
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            raise PlaneError.at(
                f"Pulumi.{settings.stack}.yaml", "config.secrets-plane:store",
                f"stack '{settings.stack}' puts {len(names)} secret(s) in the store ({shown}) but names no store",
                "set `secrets-plane:store` to `{adopt: <store id>}` or `{create: <name>}`"
                + (" (AI Gateway BYOK keys live in the store on every backend)" if byok else
                   ", or hold the stack back with `secrets-plane:backend: legacy`"),
            )
        store = StoreRef("adopt", id=setting.adopt) if setting.adopt else StoreRef("create", name=setting.create)
    return DesiredState(
        stack=settings.stack,
        account_id=settings.account_id,
        backend=settings.effective_backend(manifest.backend),
        manifest_digest=digest or manifest.digest(),
        store=store,
        store_secrets=tuple(store_secrets),
        workers=tuple(workers),
        overlaps=overlaps,
        byok_keys=byok,
    )


def byok_keys(manifest: Manifest, stack: str) -> tuple[ByokKey, ...]:
    """Every BYOK key of `stack`, by gateway, provider and alias."""
    keys = [
        ByokKey(
            secret=name,
            gateway_id=key.gateway,
            provider_slug=key.provider,
            alias=key.alias,
            default_config=key.is_default,
            store_secret_name=byok_secret_name(key.gateway, key.provider, key.alias),
            comment=f"AI Gateway BYOK key ({key.gateway}/{key.provider}/{key.alias}) from {name} | managed by "
                    "secrets-plane",
            rate_limit=key.rate_limit,
            rate_limit_period=key.rate_limit_period,
        )
        for name, spec in manifest.secrets.items()
        for key in spec.gateways.get(stack, ())
    ]
    return tuple(sorted(keys, key=lambda k: (k.gateway_id, k.provider_slug, k.alias)))
