"""Canary: does the live account run exactly what the desired state says? Names and types only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..core.desired_state import DesiredState
from .account import SECRET_TYPES, LiveAccount

HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Mismatch:
    worker: str
    binding: str
    expected: str
    found: str


@dataclass
class CanaryReport:
    stack: str
    checked: int
    mismatches: list[Mismatch]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def resolve_store_id(desired: DesiredState, live: LiveAccount) -> str | None:
    if desired.store is None:
        return None
    if desired.store.mode == "adopt":
        return desired.store.id
    return live.find_store(desired.store.name or "")


def _describe(binding: dict[str, Any] | None) -> str:
    if binding is None:
        return "absent"
    if binding.get("type") == "secrets_store_secret":
        return f"secrets_store_secret {binding.get('store_id')}/{binding.get('secret_name')}"
    return str(binding.get("type"))


def run_canary(desired: DesiredState, live: LiveAccount, health_urls: dict[str, str]) -> CanaryReport:
    report = CanaryReport(desired.stack, 0, [], [])
    store_id = resolve_store_id(desired, live)
    if desired.backend == "store":
        report.checked += 1
        if store_id is None or not live.store_exists(store_id):
            report.mismatches.append(Mismatch("(store)", "-", f"store {store_id or desired.store}", "absent"))
        else:
            secrets = live.store_secrets(store_id)
            for spec in desired.store_secrets:
                report.checked += 1
                found = secrets.get(spec.store_secret_name)
                expected = f"active, scopes {','.join(spec.scopes)}"
                if found is None:
                    report.mismatches.append(Mismatch("(store)", spec.store_secret_name, expected, "absent"))
                elif found.status != "active" or found.scopes != spec.scopes:
                    report.mismatches.append(Mismatch("(store)", spec.store_secret_name, expected,
                                                      f"{found.status}, scopes {','.join(found.scopes)}"))
    for worker in desired.workers:
        report.checked += 1
        bindings = live.worker_bindings(worker.script_name)
        if bindings is None:
            report.mismatches.append(Mismatch(worker.script_name, "-", "Worker exists", "no such script"))
            continue
        for b in worker.bindings:
            report.checked += 1
            live_binding = bindings.get(b.name)
            if b.kind == "secret_text":
                expected = "secret_text"
                good = live_binding is not None and live_binding.get("type") == "secret_text"
            else:
                expected = f"secrets_store_secret {store_id}/{b.store_secret_name}"
                good = (live_binding is not None and live_binding.get("type") == "secrets_store_secret"
                        and live_binding.get("store_id") == store_id
                        and live_binding.get("secret_name") == b.store_secret_name)
            if not good:
                report.mismatches.append(Mismatch(worker.script_name, b.name, expected, _describe(live_binding)))
        managed = {b.name for b in worker.bindings}
        for name, binding in sorted(bindings.items()):
            if binding.get("type") in SECRET_TYPES and name not in managed:
                report.notes.append(f"{worker.script_name}: {binding.get('type')} binding '{name}' is not in the "
                                    "manifest (add it, or remove it with wrangler)")
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
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
