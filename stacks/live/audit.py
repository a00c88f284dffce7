"""Audit: ONE list of every credential a stack holds, whichever world it lives in: who owns it,
where it is bound and how (store binding, Worker secret, fallback copy, external), when it last
changed, and whether the live account agrees. The report the decision record asks for; it never
reads a value."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.desired_state import SECRET_TYPES, STORE, DesiredState, byok_keys, stack_secret_names, store_secret_name_in
from ..core.estate import Estate
from ..core.text import md_code, md_text
from .account import LiveAccount, LiveStoreSecret
from .canary import binding_ok, describe_binding, resolve_store_id
from .gateways import check_for_canary


@dataclass
class Placement:
    script: str
    binding: str
    kind: str        # secrets_store_secret | secret_text
    role: str        # primary | fallback
    external: bool
    live: str        # ok, or what is wrong


@dataclass
class CredentialRow:
    secret: str
    description: str
    owner: str
    provider: str
    scopes: list[str]
    workers: list[str]
    backend: str      # store | legacy | both (store and Worker secrets, as the manifest says)
    store_secret: str | None
    store_status: str | None
    external: bool
    placements: list[Placement]
    copies: list[str]  # scripts holding a fallback copy
    last_changed: str | None
    last_changed_source: str
    rotation_days: int
    rotation: str
    status: str
    overlap: str | None = None  # rotation with overlap: the window, for a secret with `overlap_days`


@dataclass
class Orphan:
    where: str
    name: str
    kind: str


@dataclass
class ByokRow:
    """One AI Gateway BYOK key: where it is, the store secret the gateway reads, and its state."""

    secret: str
    gateway: str
    key: str              # provider/alias
    store_secret: str
    last_changed: str | None
    status: str


@dataclass
class AuditReport:
    stack: str
    backend: str
    mode: str
    as_of: str
    manifest_digest: str
    credentials: list[CredentialRow] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    byok: list[ByokRow] = field(default_factory=list)


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
                rotation_dates: Mapping[str, Mapping[str, str]] | None = None,
                step: Callable[[str], None] = lambda _: None) -> AuditReport:
    m = estate.manifest.manifest
    report = AuditReport(desired.stack, desired.backend, desired.mode, as_of.isoformat(), desired.manifest_digest)
    store_id = resolve_store_id(desired, live)
    store: dict[str, LiveStoreSecret] = live.store_secrets(store_id) if desired.store_secrets and store_id else {}
    for worker in desired.workers:
        served = live.worker(worker.script_name)  # read once here; the rest of the audit reuses it
        step(worker.script_name)
        if served is not None and served.in_flight:
            report.in_flight.append(f"{worker.script_name}: {served.describe_split()}")
    held = sorted({s.secret for s in desired.store_secrets}
                  | {b.secret for w in desired.workers for b in w.bindings})
    for secret in held:
        spec = m.secrets[secret]
        problems: list[str] = []
        placements: list[Placement] = []
        in_store = desired.store_secret(secret)
        live_secret = store.get(in_store.store_secret_name) if in_store else None
        for spec_in_store in (s for s in desired.store_secrets if s.secret == secret):
            found = store.get(spec_in_store.store_secret_name)
            if found is None:
                problems.append(f"store secret {spec_in_store.store_secret_name} missing")
            elif found.status != "active":
                which = "" if spec_in_store.slot == "current" else f"{spec_in_store.store_secret_name} "
                problems.append(f"store secret {which}{found.status}")
            elif not spec_in_store.external and found.scopes != spec_in_store.scopes:
                problems.append(f"store scopes {','.join(found.scopes)}")
        overlap_text = _overlap(desired, secret, as_of, problems)
        for worker, b in desired.holders(secret):
            served = live.worker(worker.script_name)
            if served is None:
                state = "Worker missing"
            else:
                wrong = [f"{describe_binding(served.bindings[v].get(b.name))} in {v[:8]}" if served.in_flight
                         else describe_binding(served.bindings[v].get(b.name))
                         for v, _ in served.split if not binding_ok(b, served.bindings[v].get(b.name), store_id)]
                state = "ok" if not wrong else "; ".join(wrong)
            placements.append(Placement(worker.script_name, b.name, b.kind, b.role, b.external, state))
            if state != "ok":
                what = "missing" if state == "absent" else state
                problems.append(f"{b.name} {what} on {worker.script_name}" if state != "Worker missing"
                                else f"Worker {worker.script_name} missing")
        texts = [p for p in placements if p.kind == "secret_text"]
        stored = in_store is not None or any(p.kind == STORE for p in placements)
        backend = "both" if stored and texts else "store" if stored else "legacy"
        last, source = _last_changed(live, live_secret, texts, rotation_dates)
        report.credentials.append(CredentialRow(
            secret=secret, description=spec.description, owner=spec.owner, provider=spec.provider,
            scopes=sorted(spec.scopes), workers=sorted({p.script for p in placements}), backend=backend,
            store_secret=in_store.store_secret_name if in_store else None,
            store_status=live_secret.status if live_secret else ("absent" if in_store else None),
            external=spec.external, placements=placements,
            copies=sorted(p.script for p in placements if p.role == "fallback"),
            last_changed=last, last_changed_source=source or "unknown",
            rotation_days=spec.rotation_days, rotation=_rotation(last, spec.rotation_days, as_of), overlap=overlap_text,
            status="ok" if not problems else "; ".join(problems),
        ))
    if desired.byok_keys:
        report.byok = _byok_rows(desired, live, store_id)
    # Orphans: credentials live on the account or on managed Workers that no manifest entry declares.
    if store_id and desired.store_secrets:
        claimed: set[str] = set()
        for stack_name, stack in estate.stacks.items():
            if stack.settings.account_id == desired.account_id:
                claimed |= {store_secret_name_in(m, stack.settings, s) for s in stack_secret_names(m, stack_name)}
                claimed |= {s.store_secret_name for s in estate.desired_state(stack_name).store_secrets}
                claimed |= {k.store_secret_name for k in byok_keys(m, stack_name)}
        for orphan in sorted(set(store) - claimed):
            report.orphans.append(Orphan(f"store {store_id}", orphan, "store secret"))
    for worker in desired.workers:
        served = live.worker(worker.script_name)
        if served is None:
            continue
        managed = {b.name for b in worker.bindings}
        seen: set[str] = set()
        for version_id, _ in served.split:
            for name, binding in sorted(served.bindings[version_id].items()):
                if binding.get("type") in SECRET_TYPES and name not in managed and name not in seen:
                    seen.add(name)
                    report.orphans.append(Orphan(worker.script_name, name, str(binding.get("type"))))
    return report


def _overlap(desired: DesiredState, secret: str, as_of: dt.date, problems: list[str]) -> str | None:
    """The overlap window of a secret that has one, in words; one past its end is a problem."""
    overlap = desired.overlap(secret)
    if overlap is None:
        return None
    if overlap.retires is None:
        return f"{overlap.days} days; no window open"
    if dt.date.fromisoformat(overlap.retires) < as_of:
        problems.append(f"overlap window ended {overlap.retires}: retire it (python -m stacks retire {secret} --stack "
                        f"{desired.stack})")
        return f"{overlap.days} days; window ended {overlap.retires}, the previous value still readable"
    return f"{overlap.days} days; window open until {overlap.retires}"


def _byok_rows(desired: DesiredState, live: LiveAccount, store_id: str | None) -> list[ByokRow]:
    """Each BYOK key as the gateway has it (check_for_canary's rule: the config points at the
    store secret the plane made), and when its store secret last changed."""
    secrets = live.store_secrets(store_id) if store_id else {}
    _, wrong = check_for_canary(desired, live, store_id, secrets)
    problems: dict[str, list[str]] = {}
    for mismatch in wrong:
        problems.setdefault(mismatch.key, []).append(f"{mismatch.expected}: {mismatch.found}")
    rows = []
    for k in desired.byok_keys:
        label = f"{k.gateway_id}:{k.provider_slug}/{k.alias}"
        found = secrets.get(k.store_secret_name)
        rows.append(ByokRow(k.secret, k.gateway_id, f"{k.provider_slug}/{k.alias}", k.store_secret_name,
                            found.modified if found else None, "; ".join(problems.get(label, [])) or "ok"))
    return rows


def _last_changed(live: LiveAccount, live_secret: LiveStoreSecret | None, texts: list[Placement],
                  rotation_dates: Mapping[str, Mapping[str, str]] | None) -> tuple[str | None, str]:
    """A value's last change: the store's `modified` when the store holds it (its Worker copies
    are written with the same value); else the plane's `value_changed_at` from the stack outputs;
    else the newest version serving the Worker, which is only an upper bound (read with the
    Worker, once: no call of its own)."""
    if live_secret is not None:
        return live_secret.modified, "Secrets Store `modified`"
    recorded = [(rotation_dates or {}).get(p.script, {}).get(p.binding) for p in texts]
    dates = [d for d in recorded if d]
    if dates:
        return max(dates), "secrets-plane value_changed_at"
    served = [version.created_on for p in texts for version, _ in (getattr(live.worker(p.script), "served", None) or [])
              if version.created_on is not None]
    if served:
        return max(served).isoformat().replace("+00:00", "Z"), "newest served Worker version (upper bound)"
    return None, ""


def render_json(report: AuditReport) -> str:
    data = asdict(report)
    if not report.byok:
        del data["byok"]  # a stack without BYOK keys reads as it did
    return json.dumps(data, indent=2)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def _where(c: CredentialRow) -> str:
    """Per Worker, how it holds the credential: `store`, `secret` (secret_text), `copy` (fallback
    copy), `external`; the binding name when it differs from the credential's."""
    by_script: dict[str, list[str]] = {}
    for p in c.placements:
        kind = "store" if p.kind == STORE else "copy" if p.role == "fallback" else "external" if p.external else "secret"
        renamed = p.binding != c.secret and p.role != "fallback"
        by_script.setdefault(p.script, []).append(f"{p.binding} {kind}" if renamed else kind)
    return ", ".join(f"{script} ({' + '.join(kinds)})" for script, kinds in sorted(by_script.items())) or "other services"


def render_table(report: AuditReport) -> str:
    lines = [f"audit {report.stack} (flag {report.backend}, credentials {report.mode}) as of {report.as_of}, manifest "
             f"{report.manifest_digest[:12]}"]
    rows = [["CREDENTIAL", "OWNER", "PROVIDER", "SCOPES", "BACKEND", "WORKERS", "COPIES", "LAST CHANGED", "ROTATION",
             "STATUS"]]
    for c in report.credentials:
        rows.append([c.secret + (" (external)" if c.external else ""), c.owner, c.provider, ",".join(c.scopes), c.backend,
                     str(len(c.workers)), str(len(c.copies)), (c.last_changed or "unknown")[:10], c.rotation, c.status])
    lines += _table(rows)
    both = [c.secret for c in report.credentials if c.backend == "both"]
    if both:
        lines.append(f"in both worlds, as the manifest says ({len(both)}): {', '.join(both)}")
    sources = sorted({c.last_changed_source for c in report.credentials})
    lines.append(f"last changed from: {', '.join(sources)}")
    for c in report.credentials:
        if c.overlap:
            lines.append(f"overlap: {c.secret}: {c.overlap}")
    for entry in report.in_flight:
        lines.append(f"versions in flight: {entry}")
    if report.byok:
        lines.append(f"AI Gateway BYOK keys ({len(report.byok)}):")
        lines += _table([["GATEWAY", "KEY", "CREDENTIAL", "STORE SECRET", "LAST CHANGED", "STATUS"]]
                        + [[b.gateway, b.key, b.secret, b.store_secret, (b.last_changed or "unknown")[:10], b.status]
                           for b in report.byok])
    if report.orphans:
        lines.append(f"orphans ({len(report.orphans)}): not in the manifest")
        lines += _table([["WHERE", "NAME", "KIND"]] + [[o.where, o.name, o.kind] for o in report.orphans])
    else:
        lines.append("orphans: none")
    return "\n".join(lines)


def render_markdown(report: AuditReport) -> str:
    overdue = sum(1 for c in report.credentials if c.rotation.startswith("OVERDUE"))
    unhealthy = sum(1 for c in report.credentials if c.status != "ok")
    worlds = {"store": "one account-level Secrets Store", "legacy": "per-Worker secrets",
              "mixed": "partly the account-level Secrets Store, partly per-Worker secrets"}
    lines = [
        f"# Credential audit: {md_text(report.stack)}",
        "",
        f"As of {report.as_of}. Every credential this environment holds, who owns it, where it is bound, "
        f"and when it was last changed. Values are never read. Credentials live in **{worlds[report.mode]}**.",
        "",
        f"- Credentials: **{len(report.credentials)}**; rotation overdue: **{overdue}**; "
        f"not as declared: **{unhealthy}**; undeclared (orphans): **{len(report.orphans)}**; "
        f"in both worlds by design: **{sum(1 for c in report.credentials if c.backend == 'both')}**.",
        f"- Manifest digest: `{report.manifest_digest}`",
        "",
        "| Credential | Description | Owner | Provider | Scopes | Backend | Where | Last changed | Rotation | Status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    # A report a client reads: the manifest's text and the account's names are escaped for Markdown.
    for c in report.credentials:
        lines.append(f"| {md_code(c.secret, table=True)}{' (external)' if c.external else ''} | "
                     f"{md_text(c.description, table=True)} | {md_text(c.owner, table=True)} | "
                     f"{md_text(c.provider, table=True)} | {', '.join(c.scopes)} | {c.backend} | "
                     f"{md_text(_where(c), table=True)} | {md_text((c.last_changed or 'unknown')[:10], table=True)} | "
                     f"{md_text(c.rotation, table=True)} (every {c.rotation_days} days) | {md_text(c.status, table=True)} |")
    sources = sorted({c.last_changed_source for c in report.credentials})
    lines += ["", f"Last-changed dates come from: {', '.join(sources)}.", ""]
    overlaps = [c for c in report.credentials if c.overlap]
    if overlaps:
        lines += ["## Rotation with overlap", "",
                  "Each binding of these has `<BINDING>_PREVIOUS` beside it, holding the value before the last "
                  "rotation during its window (the current value outside one).", ""]
        lines += [f"- {md_code(c.secret)}: {md_text(c.overlap or '')}" for c in overlaps] + [""]
    if report.in_flight:
        lines += ["## Workers with versions in flight", ""] + [f"- {md_text(entry)}" for entry in report.in_flight] + [""]
    if report.byok:
        lines += ["## AI Gateway BYOK keys", "", "| Gateway | Key | Credential | Store secret | Last changed | Status |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {md_code(b.gateway, table=True)} | {md_code(b.key, table=True)} | {md_code(b.secret, table=True)} | "
                  f"{md_code(b.store_secret, table=True)} | {md_text((b.last_changed or 'unknown')[:10], table=True)} | "
                  f"{md_text(b.status, table=True)} |" for b in report.byok] + [""]
    if report.orphans:
        lines += ["## Undeclared credentials", "", "| Where | Name | Kind |", "|---|---|---|"]
        lines += [f"| {md_text(o.where, table=True)} | {md_code(o.name, table=True)} | {md_text(o.kind, table=True)} |"
                  for o in report.orphans]
    else:
        lines.append("No undeclared credentials were found.")
    return "\n".join(lines) + "\n"


def load_rotation_dates(outputs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """From `pulumi stack output --json`: the provider's per-binding value_changed_at."""
    raw = outputs.get("value_changed_at") or {}
    return {str(k): {str(b): str(t) for b, t in (v or {}).items()} for k, v in raw.items() if isinstance(v, dict)}
