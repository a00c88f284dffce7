"""Realistic live states for the fake account, derived from the shipped manifest's desired state."""

from __future__ import annotations

from pathlib import Path

from conftest import ACCOUNT, ROOT, STORE_ID
from fake_cloudflare import FakeCloudflare, StoreSecret

from stacks.core.backends import Backend
from stacks.core.desired_state import DesiredState
from stacks.core.estate import load_estate

UNMANAGED = [
    {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv1"},
    {"type": "plain_text", "name": "ENVIRONMENT", "text": "x"},
]


def desired(stack: str, backend: Backend | None, project: Path = ROOT) -> DesiredState:
    return load_estate(project).desired_state(stack, backend)


def seed_healthy(fake: FakeCloudflare, stack: str, backend: Backend | None, project: Path = ROOT) -> DesiredState:
    """An account serving exactly the desired state of `stack` (with `backend` pinned, if given)."""
    state = desired(stack, backend, project)
    fake.add_store(ACCOUNT, STORE_ID, "ascend")
    for i, spec in enumerate(state.store_secrets):
        month = 1 + i % 11
        fake.add_store_secret(STORE_ID, StoreSecret(
            id=f"id{i:02d}", name=spec.store_secret_name, scopes=list(spec.scopes),
            modified=f"2026-{month:02d}-15T08:00:00Z", comment=spec.comment))
    for worker in state.workers:
        bindings = list(UNMANAGED)
        for b in worker.bindings:
            if b.kind == "secret_text":
                bindings.append({"type": "secret_text", "name": b.name, "text": "x"})
            else:
                bindings.append({"type": "secrets_store_secret", "name": b.name, "store_id": STORE_ID,
                                 "secret_name": b.store_secret_name})
        script = fake.add_script(ACCOUNT, worker.script_name, bindings)
        script.history[0].created_on = "2026-03-01T12:00:00Z"
        script.add_version([dict(b) for b in bindings], deploy=True, source="wrangler",
                           created_on="2026-06-10T12:00:00Z")
    return state


def drop_store_bindings(fake: FakeCloudflare, script: str) -> None:
    """What `wrangler deploy` does when the Worker's config lacks secrets_store_secrets."""
    s = fake.scripts[(ACCOUNT, script)]
    s.add_version([b for b in s.bindings if b["type"] != "secrets_store_secret"], deploy=True, source="wrangler",
                  created_on="2026-06-12T12:00:00Z")


def add_orphans(fake: FakeCloudflare, script: str) -> None:
    fake.add_store_secret(STORE_ID, StoreSecret(id="orphan1", name="OLD_MAILCHIMP_KEY", scopes=["workers"]))
    s = fake.scripts[(ACCOUNT, script)]
    s.add_version(s.bindings + [{"type": "secret_text", "name": "LEGACY_STRIPE_KEY", "text": "x"}], deploy=True,
                  source="wrangler", created_on="2026-06-12T12:00:00Z")
