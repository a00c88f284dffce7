"""The pure core: (manifest, stack settings) -> DesiredState. No Pulumi, no I/O, no values.

Everything downstream (the Pulumi component, the offline plan, canary, audit, wrangler config,
typings) reads a DesiredState; nothing re-derives a name from the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import PlaneError
from .manifest import Manifest
from .naming import script_name
from .stack_config import StackSettings

BindingKind = Literal["secret_text", "secrets_store_secret"]


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


@dataclass(frozen=True)
class Binding:
    name: str
    secret: str
    kind: BindingKind
    store_secret_name: str | None = None


@dataclass(frozen=True)
class WorkerState:
    worker: str
    script_name: str
    bindings: tuple[Binding, ...]


@dataclass(frozen=True)
class DesiredState:
    stack: str
    account_id: str
    backend: Literal["legacy", "store"]
    manifest_digest: str
    store: StoreRef | None
    store_secrets: tuple[StoreSecret, ...]
    workers: tuple[WorkerState, ...]

    @property
    def needed_values(self) -> tuple[str, ...]:
        """Secrets whose value this stack must have: store secrets, or legacy-bound secrets."""
        if self.backend == "store":
            return tuple(sorted(s.secret for s in self.store_secrets))
        return tuple(sorted({b.secret for w in self.workers for b in w.bindings}))

    def binding_matrix(self) -> dict[str, dict[str, str]]:
        """script name -> binding name -> kind. Names and kinds only, never values."""
        return {w.script_name: {b.name: b.kind for b in w.bindings} for w in self.workers}


def store_comment(secret: str, manifest: Manifest) -> str:
    spec = manifest.secrets[secret]
    if spec.comment:
        return spec.comment
    return f"{spec.description} | owner: {spec.owner} | provider: {spec.provider} | managed by secrets-plane"


def stack_secret_names(manifest: Manifest, stack: str) -> list[str]:
    """Secrets a stack holds in the store backend: those its Workers bind, plus those another
    Cloudflare service (ai_gateway, dex, ...) uses directly."""
    bound = {
        secret
        for worker in manifest.workers.values()
        if stack in worker.stacks
        for secret in worker.binding_map().values()
    }
    other = {name for name, spec in manifest.secrets.items() if set(spec.scopes) - {"workers"}}
    return sorted(bound | other)


def build_desired_state(manifest: Manifest, settings: StackSettings, digest: str | None = None) -> DesiredState:
    backend = settings.effective_backend(manifest.backend)
    store: StoreRef | None = None
    store_secrets: tuple[StoreSecret, ...] = ()
    if backend == "store":
        setting = settings.store
        if setting is None:
            raise PlaneError.at(
                f"Pulumi.{settings.stack}.yaml", "config.secrets-plane:store",
                f"stack '{settings.stack}' uses the store backend but names no store",
                "set `secrets-plane:store` to `{adopt: <store id>}` or `{create: <name>}`",
            )
        if setting.adopt:
            store = StoreRef("adopt", id=setting.adopt)
        else:
            store = StoreRef("create", name=setting.create)
        store_secrets = tuple(
            StoreSecret(
                secret=name,
                store_secret_name=settings.store_secret_name(name),
                scopes=tuple(sorted(manifest.secrets[name].scopes)),
                comment=store_comment(name, manifest),
            )
            for name in stack_secret_names(manifest, settings.stack)
        )
    workers = []
    for wname in sorted(manifest.workers):
        worker = manifest.workers[wname]
        if settings.stack not in worker.stacks:
            continue
        bindings = tuple(
            Binding(
                name=binding,
                secret=secret,
                kind="secrets_store_secret" if backend == "store" else "secret_text",
                store_secret_name=settings.store_secret_name(secret) if backend == "store" else None,
            )
            for binding, secret in sorted(worker.binding_map().items())
        )
        workers.append(WorkerState(wname, script_name(worker, settings.stack), bindings))
    return DesiredState(
        stack=settings.stack,
        account_id=settings.account_id,
        backend="store" if backend == "store" else "legacy",
        manifest_digest=digest or manifest.digest(),
        store=store,
        store_secrets=store_secrets,
        workers=tuple(workers),
    )
