"""What a stack expects to exist already because the plane binds it but never owns it (secrets
marked `external: true`), and the command that makes each one. One rule, read by `validate`,
`plan` and `diff` alike. Pure: names and commands, never a value (wrangler asks for it)."""

from __future__ import annotations

from dataclasses import dataclass

from .desired_state import STORE, DesiredState


@dataclass(frozen=True)
class ExternalNeed:
    """One external secret a stack binds: in the store (by name), or set on each Worker."""

    secret: str
    kind: str                 # "store" | "worker"
    name: str                 # the store secret name, or the binding name on the Worker
    scripts: tuple[str, ...]  # the Workers that bind it
    scopes: tuple[str, ...] = ()

    def where(self, desired: DesiredState) -> str:
        if self.kind == "store":
            return f"in {store_label(desired)} as {self.name}"
        return f"on Worker{'s' if len(self.scripts) > 1 else ''} {', '.join(self.scripts)} as {self.name}"

    def commands(self, desired: DesiredState) -> list[str]:
        """What makes it exist (the value is asked for by wrangler, never on the command line)."""
        if self.kind == "store":
            return [f"wrangler secrets-store secret create {store_id_text(desired)} --name {self.name} "
                    f"--scopes {','.join(self.scopes)} --remote"]
        return [f"wrangler secret put {self.name} --name {script}" for script in self.scripts]


def store_label(desired: DesiredState) -> str:
    if desired.store is None:
        return "the store"
    if desired.store.mode == "adopt":
        return f"store {desired.store.id}"
    return f"store '{desired.store.name}' (which this stack creates: add it once the store exists)"


def store_id_text(desired: DesiredState) -> str:
    if desired.store is not None and desired.store.mode == "adopt" and desired.store.id:
        return desired.store.id
    return "<store id: pulumi stack output store_id>"


def external_needs(desired: DesiredState) -> list[ExternalNeed]:
    """Every external secret the stack binds, where it must already be, sorted by secret."""
    needs: list[ExternalNeed] = []
    for spec in desired.store_secrets:
        if spec.external:
            scripts = tuple(sorted(w.script_name for w in desired.workers for b in w.bindings
                                   if b.secret == spec.secret and b.kind == STORE))
            needs.append(ExternalNeed(spec.secret, "store", spec.store_secret_name, scripts, spec.scopes))
    by_binding: dict[tuple[str, str], list[str]] = {}
    for worker in desired.workers:
        for b in worker.bindings:
            if b.external and b.kind != STORE:
                by_binding.setdefault((b.secret, b.name), []).append(worker.script_name)
    needs += [ExternalNeed(secret, "worker", name, tuple(sorted(scripts)))
              for (secret, name), scripts in by_binding.items()]
    return sorted(needs, key=lambda n: (n.secret, n.kind, n.name))
