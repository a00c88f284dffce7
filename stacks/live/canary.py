"""Canary: does the live account serve exactly what the desired state says? Names and types only.

Each Worker is checked as it serves: every version of its active deployment (a gradual rollout
serves two). Store secrets created a moment ago can be `pending`: the canary waits for them up to
`wait_s` and then names the ones that never turned active.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..api.live_state import LiveState
from ..api.workers import VersionFacts
from ..core.desired_state import SECRET_TYPES, STORE, Binding, DesiredState, StoreSecret, WorkerState
from ..core.scope import Scope
from ..core.verified import Verified, bindings_digest
from .account import LiveAccount, LiveStoreSecret
from .gateways import check_for_canary

HEALTH_TIMEOUT_S = 5.0
DEFAULT_WAIT_S = 90.0  # a new store secret turns active within seconds; a CI job can afford this
POLL_S = 5.0


@dataclass(frozen=True)
class Mismatch:
    worker: str
    binding: str
    expected: str
    found: str


@dataclass
class CanaryReport:
    stack: str
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    waited_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def resolve_store_id(desired: DesiredState, live: LiveAccount) -> str | None:
    if desired.store is None:
        return None
    if desired.store.mode == "adopt":
        return desired.store.id
    return live.find_store(desired.store.name or "")


def describe_binding(binding: dict[str, Any] | None) -> str:
    if binding is None:
        return "absent"
    if binding.get("type") == STORE:
        return f"secrets_store_secret {binding.get('store_id')}/{binding.get('secret_name')}"
    return str(binding.get("type"))


def expected_binding(b: Binding, store_id: str | None) -> str:
    if b.kind == STORE:
        return f"secrets_store_secret {store_id}/{b.store_secret_name}"
    if b.role == "fallback":
        return "secret_text (fallback copy)"
    return "secret_text (external)" if b.external else "secret_text"


def binding_ok(b: Binding, found: dict[str, Any] | None, store_id: str | None) -> bool:
    if found is None or found.get("type") != b.kind:
        return False
    if b.kind == STORE:
        return found.get("store_id") == store_id and found.get("secret_name") == b.store_secret_name
    return True


def wait_for_active(specs: Sequence[StoreSecret], live: LiveAccount, store_id: str, wait_s: float,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[dict[str, LiveStoreSecret], float]:
    """The store's secrets once none of `specs` is `pending`, or when `wait_s` is spent: each poll
    is the one listing (100 a page) that says so, and nothing else is read again."""
    wanted = {s.store_secret_name for s in specs}
    waited = 0.0
    while True:
        secrets = live.store_secrets(store_id)
        pending = [n for n in wanted if n in secrets and secrets[n].status == "pending"]
        if not pending or waited >= wait_s:
            return secrets, waited
        step = min(POLL_S, wait_s - waited)
        sleep(step)
        waited += step


def expected_shape(b: Binding, store_id: str | None) -> dict[str, Any]:
    """The binding as a served version holds it when it is as desired (what binding_ok accepts)."""
    if b.kind == STORE:
        return {"name": b.name, "type": STORE, "store_id": store_id, "secret_name": b.store_secret_name}
    return {"name": b.name, "type": b.kind}


def _served(worker: WorkerState, live: LiveAccount, store_id: str | None, record: Verified | None) -> LiveState | None:
    """The Worker's deployment, read live; its version's bindings from the record when it serves the
    recorded version alone and the record holds what the manifest wants (core/verified.py), else read.
    None: no such script."""
    if record is not None:
        exists, deployment = live.deployment(worker.script_name)
        if not exists:
            return None
        expected = {b.name: expected_shape(b, store_id) for b in worker.bindings}
        if (deployment is not None and deployment.traffic == frozenset({(record.version, 100.0)})
                and bindings_digest(expected, expected) == record.digest):
            held = {**{n: {"name": n, "type": t} for n, t in record.unmanaged_secrets.items()}, **expected}
            version = VersionFacts(record.version, 0, None, held, {})
            return LiveState(worker.script_name, deployment, {record.version: version}, None)
    return live.worker(worker.script_name)


def run_canary(desired: DesiredState, live: LiveAccount, health_urls: dict[str, str],
               wait_s: float = DEFAULT_WAIT_S, sleep: Callable[[float], None] = time.sleep,
               step: Callable[[str], None] = lambda _: None, scope: Scope | None = None,
               verified: Mapping[str, Verified] | None = None) -> CanaryReport:
    """`scope`: only what the run wrote or found changed (core/scope.py), every deployed version of
    each of those Workers; None: every Worker and store secret. `verified`: the stack's record of the
    versions the plane read back (core/verified.py): a Worker that serves its recorded version alone
    costs its deployment read, nothing more."""
    report = CanaryReport(desired.stack)
    if scope is not None:
        report.notes.append(f"scope: {scope.describe()}")
    scope = scope or Scope.everything("no scope given")
    workers = [w for w in desired.workers if scope.has_worker(w.script_name)]
    # The store secrets this run wrote, and those the Workers it checks bind.
    bound = {b.secret for w in workers for b in w.bindings if b.kind == STORE}
    specs = [s for s in desired.store_secrets if scope.has_store_secret(s.secret) or s.secret in bound]
    store_id = resolve_store_id(desired, live) if specs or workers else None
    if specs:
        report.checked += 1
        if store_id is None or not live.store_exists(store_id):
            report.mismatches.append(Mismatch("(store)", "-", f"store {store_id or desired.store}", "absent"))
        else:
            secrets, report.waited_s = wait_for_active(specs, live, store_id, wait_s, sleep)
            for spec in specs:
                report.checked += 1
                found = secrets.get(spec.store_secret_name)
                expected = f"active, scopes {','.join(spec.scopes)}" + (" (external)" if spec.external else "")
                scopes_ok = found is not None and (set(spec.scopes) <= set(found.scopes) if spec.external
                                                   else found.scopes == spec.scopes)
                if found is None:
                    report.mismatches.append(Mismatch("(store)", spec.store_secret_name, expected, "absent"))
                elif found.status != "active" or not scopes_ok:
                    status = found.status + (f" after {report.waited_s:.0f} s" if found.status == "pending" else "")
                    report.mismatches.append(Mismatch("(store)", spec.store_secret_name, expected,
                                                      f"{status}, scopes {','.join(found.scopes)}"))
    if desired.byok_keys:
        # Each BYOK key: its config on the gateway, pointing at the store secret the plane made.
        checked, wrong = check_for_canary(desired, live, store_id, live.store_secrets(store_id) if store_id else {})
        report.checked += checked
        report.mismatches += [Mismatch("(ai gateway)", m.key, m.expected, m.found) for m in wrong]
    records = verified or {}
    for worker in workers:
        report.checked += 1
        served = _served(worker, live, store_id, records.get(worker.script_name))
        step(worker.script_name)
        if served is None:
            report.mismatches.append(Mismatch(worker.script_name, "-", "Worker exists", "no such script"))
            continue
        if served.in_flight:
            report.notes.append(f"{worker.script_name}: versions in flight ({served.describe_split()}): each "
                                "deployed version is checked")
        for version_id, _ in served.split:
            bindings = served.bindings[version_id]
            label = worker.script_name if not served.in_flight else f"{worker.script_name}@{version_id[:8]}"
            for b in worker.bindings:
                report.checked += 1
                if not binding_ok(b, bindings.get(b.name), store_id):
                    report.mismatches.append(Mismatch(label, b.name, expected_binding(b, store_id),
                                                      describe_binding(bindings.get(b.name))))
            managed = {b.name for b in worker.bindings}
            for name, binding in sorted(bindings.items()):
                if binding.get("type") in SECRET_TYPES and name not in managed:
                    report.notes.append(f"{label}: {binding.get('type')} binding '{name}' is not in the manifest "
                                        "(add it, or remove it with wrangler)")
        url = health_urls.get(worker.worker)
        if url:
            report.checked += 1
            status = probe(url)
            if status != "ok":
                report.mismatches.append(Mismatch(worker.script_name, "(health)", f"{url} answers < 400", status))
    return report


def probe(url: str) -> str:
    try:
        response = httpx.get(url, timeout=HEALTH_TIMEOUT_S, follow_redirects=False)
    except httpx.TimeoutException:
        return f"no answer in {HEALTH_TIMEOUT_S:.0f} s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok" if response.status_code < 400 else f"HTTP {response.status_code}"


def render(report: CanaryReport) -> str:
    lines = []
    if report.ok:
        lines.append(f"canary {report.stack}: ok ({report.checked} checks)")
    else:
        lines.append(f"canary {report.stack}: {len(report.mismatches)} mismatch(es) in {report.checked} checks")
        rows = [("WORKER", "BINDING", "EXPECTED", "FOUND")] + [(m.worker, m.binding, m.expected, m.found)
                                                              for m in report.mismatches]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    if report.waited_s:
        lines.append(f"waited {report.waited_s:.0f} s for pending store secrets")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
