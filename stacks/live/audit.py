"""Audit: every credential held, who owns it, where it is bound, when it last changed, and whether
the live account agrees. The report the decision record asks for; never reads a value."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.desired_state import DesiredState, stack_secret_names
from ..core.estate import Estate
from .account import SECRET_TYPES, LiveAccount
from .canary import resolve_store_id


@dataclass
class CredentialRow:
    secret: str
    description: str
    owner: str
    provider: str
    scopes: list[str]
    workers: list[str]
    backend: str
    last_changed: str | None
    last_changed_source: str
    rotation_days: int
    rotation: str
    status: str


@dataclass
class Orphan:
    where: str
    name: str
    kind: str


@dataclass
class AuditReport:
    stack: str
    backend: str
    as_of: str
    manifest_digest: str
    credentials: list[CredentialRow] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _rotation(last: str | None, days: int, as_of: dt.date) -> str:
    changed = _date(last)
    if changed is None:
        return "unknown"
    due = changed + dt.timedelta(days=days)
    if due < as_of:
        return f"OVERDUE by {(as_of - due).days} days"
    return f"due {due.isoformat()}"


def build_audit(estate: Estate, desired: DesiredState, live: LiveAccount, as_of: dt.date,
                rotation_dates: Mapping[str, Mapping[str, str]] | None = None) -> AuditReport:
    m = estate.manifest.manifest
    report = AuditReport(desired.stack, desired.backend, as_of.isoformat(), desired.manifest_digest)
    store_id = resolve_store_id(desired, live)
    store = live.store_secrets(store_id) if desired.backend == "store" and store_id else {}
    holders: dict[str, list[tuple[str, str]]] = {}
    for worker in desired.workers:
        for b in worker.bindings:
            holders.setdefault(b.secret, []).append((worker.script_name, b.name))
    store_names = {s.secret: s for s in desired.store_secrets}
    for secret in stack_secret_names(m, desired.stack):
        spec = m.secrets[secret]
        problems: list[str] = []
        last: str | None = None
        source = ""
        if desired.backend == "store":
            wanted = store_names[secret]
            found = store.get(wanted.store_secret_name)
            if found is None:
                problems.append(f"store secret {wanted.store_secret_name} missing")
            else:
                last, source = found.modified, "Secrets Store `modified`"
                if found.status != "active":
                    problems.append(f"store secret {found.status}")
                if found.scopes != wanted.scopes:
                    problems.append(f"store scopes {','.join(found.scopes)}")
        dates: list[str] = []
        for script, binding in holders.get(secret, []):
            live_bindings = live.worker_bindings(script)
            if live_bindings is None:
                problems.append(f"Worker {script} missing")
                continue
            current = live_bindings.get(binding)
            expected = "secrets_store_secret" if desired.backend == "store" else "secret_text"
            if current is None:
                problems.append(f"missing on {script}")
            elif current.get("type") != expected:
                problems.append(f"wrong type on {script} ({current.get('type')})")
            if desired.backend == "legacy":
                recorded = (rotation_dates or {}).get(script, {}).get(binding)
                if recorded:
                    dates.append(recorded)
        if desired.backend == "legacy":
            if dates:
                last, source = max(dates), "secrets-plane value_changed_at"
            else:
                versions = [d for d in (live.latest_version_date(s) for s, _ in holders.get(secret, [])) if d]
                if versions:
                    last, source = max(versions), "latest Worker version (upper bound)"
        report.credentials.append(CredentialRow(
            secret=secret, description=spec.description, owner=spec.owner, provider=spec.provider,
            scopes=sorted(spec.scopes), workers=sorted({s for s, _ in holders.get(secret, [])}),
            backend=desired.backend, last_changed=last, last_changed_source=source or "unknown",
            rotation_days=spec.rotation_days, rotation=_rotation(last, spec.rotation_days, as_of),
            status="ok" if not problems else "; ".join(problems),
        ))
    # Orphans: credentials live on the account or on managed Workers that no manifest entry declares.
    if desired.backend == "store" and store_id:
        claimed: set[str] = set()
        for stack_name, stack in estate.stacks.items():
            if stack.settings.account_id == desired.account_id:
                claimed |= {stack.settings.store_secret_name(s) for s in stack_secret_names(m, stack_name)}
        for orphan in sorted(set(store) - claimed):
            report.orphans.append(Orphan(f"store {store_id}", orphan, "store secret"))
    for worker in desired.workers:
        live_bindings = live.worker_bindings(worker.script_name) or {}
        managed = {b.name for b in worker.bindings}
        for binding_name, live_binding in sorted(live_bindings.items()):
            if live_binding.get("type") in SECRET_TYPES and binding_name not in managed:
                report.orphans.append(Orphan(worker.script_name, binding_name, str(live_binding.get("type"))))
    return report


def render_json(report: AuditReport) -> str:
    return json.dumps(asdict(report), indent=2)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def render_table(report: AuditReport) -> str:
    lines = [f"audit {report.stack} ({report.backend} backend) as of {report.as_of}, manifest "
             f"{report.manifest_digest[:12]}"]
    rows = [["CREDENTIAL", "OWNER", "PROVIDER", "SCOPES", "WORKERS", "LAST CHANGED", "ROTATION", "STATUS"]]
    for c in report.credentials:
        rows.append([c.secret, c.owner, c.provider, ",".join(c.scopes), str(len(c.workers)),
                     (c.last_changed or "unknown")[:10], c.rotation, c.status])
    lines += _table(rows)
    sources = sorted({c.last_changed_source for c in report.credentials})
    lines.append(f"last changed from: {', '.join(sources)}")
    if report.orphans:
        lines.append(f"orphans ({len(report.orphans)}): not in the manifest")
        lines += _table([["WHERE", "NAME", "KIND"]] + [[o.where, o.name, o.kind] for o in report.orphans])
    else:
        lines.append("orphans: none")
    return "\n".join(lines)


def render_markdown(report: AuditReport) -> str:
    overdue = sum(1 for c in report.credentials if c.rotation.startswith("OVERDUE"))
    unhealthy = sum(1 for c in report.credentials if c.status != "ok")
    lines = [
        f"# Credential audit: {report.stack}",
        "",
        f"As of {report.as_of}. Every credential this environment holds, who owns it, which Workers use it, "
        f"and when it was last changed. Values are never read. Backend: **{report.backend}** "
        f"({'one account-level Secrets Store' if report.backend == 'store' else 'per-Worker secrets'}).",
        "",
        f"- Credentials: **{len(report.credentials)}**; rotation overdue: **{overdue}**; "
        f"not as declared: **{unhealthy}**; undeclared (orphans): **{len(report.orphans)}**.",
        f"- Manifest digest: `{report.manifest_digest}`",
        "",
        "| Credential | Description | Owner | Provider | Scopes | Used by | Last changed | Rotation | Status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.credentials:
        lines.append(f"| `{c.secret}` | {c.description} | {c.owner} | {c.provider} | {', '.join(c.scopes)} | "
                     f"{', '.join(c.workers) or 'other services'} | {(c.last_changed or 'unknown')[:10]} | "
                     f"{c.rotation} (every {c.rotation_days} days) | {c.status} |")
    sources = sorted({c.last_changed_source for c in report.credentials})
    lines += ["", f"Last-changed dates come from: {', '.join(sources)}.", ""]
    if report.orphans:
        lines += ["## Undeclared credentials", "", "| Where | Name | Kind |", "|---|---|---|"]
        lines += [f"| {o.where} | `{o.name}` | {o.kind} |" for o in report.orphans]
    else:
        lines.append("No undeclared credentials were found.")
    return "\n".join(lines) + "\n"


def load_rotation_dates(outputs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """From `pulumi stack output --json`: the provider's per-binding value_changed_at."""
    raw = outputs.get("value_changed_at") or {}
    return {str(k): {str(b): str(t) for b, t in (v or {}).items()} for k, v in raw.items() if isinstance(v, dict)}
