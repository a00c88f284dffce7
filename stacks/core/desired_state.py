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
from .naming import fallback_binding_name, script_name
from .stack_config import StackSettings

BindingKind = Literal["secret_text", "secrets_store_secret"]
TEXT: BindingKind = "secret_text"
STORE: BindingKind = "secrets_store_secret"


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
class DesiredState:
    stack: str
    account_id: str
    # What the flag says for this stack (its pin, else the manifest): the promotion gate's unit.
    backend: Backend
    manifest_digest: str
    store: StoreRef | None
    store_secrets: tuple[StoreSecret, ...]
    workers: tuple[WorkerState, ...]

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
        return tuple(sorted(text | store))

    @cached_property
    def text_values(self) -> tuple[str, ...]:
        """Secrets whose value reaches some Worker as secret_text (the Workers size limit)."""
        return tuple(sorted({b.secret for w in self.workers for b in w.bindings if b.needs_value}))

    def store_secret(self, secret: str) -> StoreSecret | None:
        return next((s for s in self.store_secrets if s.secret == secret), None)

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

    def rotation(self, secret: str) -> tuple[StoreSecret | None, list[WorkerState]]:
        """What a new value of `secret` rewrites: its store secret (when the stack owns one), and every
        Worker holding a secret_text it owns (a legacy binding or a fallback copy): one version each."""
        store = self.store_secret(secret)
        workers = sorted({w.worker: w for w, b in self.holders(secret) if b.needs_value}.values(),
                         key=lambda w: w.worker)
        return (store if store is not None and not store.external else None), workers

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
    asked for) or a secret_text."""
    spec = manifest.secrets[secret]
    if resolve_backend(manifest.backend, settings.backend, worker_backend, spec.backend) == "store":
        primary = Binding(binding, secret, STORE, store_secret_name_in(manifest, settings, secret))
        if (spec.fallback or worker_fallback) and not spec.external:
            return primary, Binding(fallback_binding_name(binding), secret, TEXT, role="fallback")
        return (primary,)
    return (Binding(binding, secret, TEXT, external=spec.external),)


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
    store_secrets = tuple(
        StoreSecret(
            secret=name,
            store_secret_name=store_secret_name_in(manifest, settings, name),
            scopes=tuple(sorted(manifest.secrets[name].scopes)),
            comment=store_comment(name, manifest),
            external=manifest.secrets[name].external,
        )
        for name in sorted(in_store)
    )
    store: StoreRef | None = None
    if store_secrets:
        setting = settings.store
        if setting is None:
            names = [s.secret for s in store_secrets]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            raise PlaneError.at(
                f"Pulumi.{settings.stack}.yaml", "config.secrets-plane:store",
                f"stack '{settings.stack}' puts {len(names)} secret(s) in the store ({shown}) but names no store",
                "set `secrets-plane:store` to `{adopt: <store id>}` or `{create: <name>}`, or hold the stack "
                "back with `secrets-plane:backend: legacy`",
            )
        store = StoreRef("adopt", id=setting.adopt) if setting.adopt else StoreRef("create", name=setting.create)
    return DesiredState(
        stack=settings.stack,
        account_id=settings.account_id,
        backend=settings.effective_backend(manifest.backend),
        manifest_digest=digest or manifest.digest(),
        store=store,
        store_secrets=store_secrets,
        workers=tuple(workers),
    )
