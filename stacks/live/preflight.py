"""Preflight: what would make `pulumi up` fail on the live account, found before it runs, with
read-only calls. `pulumi preview` cannot see any of it (the dynamic provider's diff does not read
the account, and the Secrets Store provider does not check quota), so Terraform and Pulumi users
meet these as apply errors halfway through a run.

Calls: the scripts listing, the stores listing and the store's secrets (100 a page, no empty page
after a short one) and the quota, once (4 up to 100 store secrets), then 2 per Worker
(its deployment and its newest versions, with their bindings), and one per served version of a
Worker whose latest version does not serve all its traffic (read whole, to say whether the write
can copy it). Names, counts and types only: never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import cloudflare

from ..api.live_state import LiveState
from ..api.permissions import STORE_READ, WORKERS_READ
from ..core.desired_state import SECRET_TYPES, TEXT, DesiredState, WorkerState, store_comment
from ..core.errors import CloudflareOperationError, did_you_mean
from ..core.externals import external_needs
from ..core.limits import ENV_VAR_TYPES, STORE_SECRETS_PER_ACCOUNT, WORKER_ENV_VARS_MAX
from ..core.manifest import Manifest
from ..core.scope import Scope
from ..core.stack_config import NAMESPACE
from ..resources.version_copies import refusals
from .account import LiveAccount, LiveStoreSecret
from .gateways import check_for_preflight


@dataclass
class Finding:
    severity: str  # blocker | notice
    subject: str   # what it is about: "store", "quota", "Worker api (script ascend-v5)", "token"
    message: str
    fix: str = ""

    def render(self) -> str:
        head = "BLOCKER" if self.severity == "blocker" else "notice "
        return f"{head} {self.subject}: {self.message}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass
class PreflightReport:
    stack: str
    account: str
    findings: list[Finding] = field(default_factory=list)
    workers: int = 0
    store_secrets: int = 0
    quota: dict[str, Any] | None = None
    calls: int = 0
    scope: str = ""

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "blocker"]

    @property
    def notices(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "notice"]

    @property
    def ok(self) -> bool:
        return not self.blockers

    def block(self, subject: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding("blocker", subject, message, fix))

    def note(self, subject: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding("notice", subject, message, fix))


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, (cloudflare.PermissionDeniedError, cloudflare.AuthenticationError))


def _cause(exc: CloudflareOperationError) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def run_preflight(manifest: Manifest, desired: DesiredState, live: LiveAccount,
                  step: Callable[[str], None] = lambda _: None, scope: Scope | None = None,
                  others: frozenset[str] = frozenset()) -> PreflightReport:
    """`scope`: only the Workers a run writes (core/scope.py), with the account-level reads (scripts,
    store, quota) when it writes anything; None: every Worker. `others`: the scripts other stacks
    bind, never proposed for a script of this one (a typo fixed to them would write to another
    stack's Worker)."""
    said = scope.describe() if scope is not None else ""
    scope = scope or Scope.everything("no scope given")
    workers = [w for w in desired.workers if scope.has_worker(w.script_name)]
    report = PreflightReport(desired.stack, desired.account_id, workers=len(workers),
                             store_secrets=len(desired.store_secrets), scope=said)
    if scope.empty:
        return report  # nothing is written: nothing can fail halfway
    scripts = _check_scripts(desired, live, report, workers, others) if workers else {}
    if desired.store is not None:
        _check_store(manifest, desired, live, report)
    for worker in workers:
        if scripts is None or worker.script_name in scripts:
            _check_worker(desired, worker, live, report, scripts.get(worker.script_name) if scripts else None)
        step(worker.script_name)
    return report


def _permission_blocker(report: PreflightReport, what: str, permission: str) -> None:
    report.block("token", f"the API token may not read {what} (403)",
                 f"give the token '{permission}' on account {report.account} (SECURITY.md lists every permission)")


def _check_scripts(desired: DesiredState, live: LiveAccount, report: PreflightReport,
                   workers: list[WorkerState], others: frozenset[str]) -> dict[str, Any] | None:
    try:
        scripts = live.scripts()
    except CloudflareOperationError as exc:
        if _refused(_cause(exc) or exc):
            _permission_blocker(report, "the account's Worker scripts", WORKERS_READ)
            return None
        raise
    for worker in workers:
        if worker.script_name not in scripts:
            guess = did_you_mean(worker.script_name, [s for s in scripts if s not in others])
            report.block(_subject(worker), f"script '{worker.script_name}' does not exist in account {desired.account_id}",
                         f"deploy it first (wrangler deploy), or fix workers.{worker.worker}.script_name in "
                         "secrets_manifest.yaml" + (f" ({guess})" if guess else ""))
    return scripts


def _subject(worker: WorkerState) -> str:
    return f"Worker {worker.worker} (script {worker.script_name})"


def _check_store(manifest: Manifest, desired: DesiredState, live: LiveAccount, report: PreflightReport) -> None:
    assert desired.store is not None
    try:
        stores = live.stores()
    except CloudflareOperationError as exc:
        if _refused(_cause(exc) or exc):
            _permission_blocker(report, "Secrets Store", STORE_READ)
            return
        raise
    store_id: str | None = None
    if desired.store.mode == "adopt":
        if desired.store.id in stores:
            store_id = desired.store.id
        else:
            there = ", ".join(f"{sid} ('{name}')" for sid, name in stores.items())
            report.block("store", f"the adopted store {desired.store.id} does not exist in account {desired.account_id}"
                         + (f" (it has {there})" if there else " (it has no store)"),
                         f"adopt the account's store: {NAMESPACE}:store: {{adopt: {next(iter(stores))}}}" if stores
                         else f"create one: {NAMESPACE}:store: {{create: <name>}}")
            return
    else:
        same = [sid for sid, name in stores.items() if name == desired.store.name]
        if same:
            store_id = same[0]
            report.note("store", f"store '{desired.store.name}' exists already ({store_id}): made by this stack's "
                                 "earlier apply, or by hand",
                        f"if by hand, adopt it: {NAMESPACE}:store: {{adopt: {store_id}}}")
        elif stores:
            sid, name = next(iter(stores.items()))
            report.block("store", f"the stack creates store '{desired.store.name}', but account {desired.account_id} "
                                  f"already has store {sid} ('{name}') and Cloudflare allows one per account",
                         f"adopt it instead: {NAMESPACE}:store: {{adopt: {sid}}}")
            return
    existing = live.store_secrets(store_id) if store_id else {}
    _check_store_secrets(manifest, desired, live, report, existing, store_id)
    if desired.byok_keys:
        check_for_preflight(desired, live, store_id, existing, report.block, report.note)


def _check_store_secrets(manifest: Manifest, desired: DesiredState, live: LiveAccount, report: PreflightReport,
                         existing: dict[str, LiveStoreSecret], store_id: str | None) -> None:
    planned = [s for s in desired.store_secrets if not s.external]
    # A BYOK key's store secret is one more of the account's: created by the apply when absent.
    creates = [s.store_secret_name for s in planned if s.store_secret_name not in existing] + \
        [k.store_secret_name for k in desired.byok_keys if k.store_secret_name not in existing]
    mine = {s.store_secret_name for s in desired.store_secrets} | {k.store_secret_name for k in desired.byok_keys}
    others = sorted(n for n in existing if n not in mine)
    quota = live.store_quota()
    if quota is not None:
        limit, used = quota
        source = "quota endpoint"
    else:
        limit, used = STORE_SECRETS_PER_ACCOUNT, len(existing)
        source = "store listing (the quota endpoint is not there)"
    room = limit - used
    report.quota = {"quota": limit, "usage": used, "creates": len(creates), "not_this_stack": len(others),
                    "source": source}
    if len(creates) > room:
        report.block("quota", f"the apply creates {len(creates)} store secret(s), but the account uses {used} of its "
                              f"{limit} ({len(others)} of them not this stack's), so {max(room, 0)} fit (from the "
                              f"{source})",
                     "drop secrets from the store (a `backend: legacy` hold), delete store secrets no stack uses, or "
                     "ask Cloudflare for a larger quota")
    for spec in planned:
        found = existing.get(spec.store_secret_name)
        if found is None:
            continue
        if found.comment != spec.comment and found.comment != store_comment(spec.secret, manifest) and \
                not found.comment.endswith("managed by secrets-plane"):
            report.block(f"store secret {spec.store_secret_name}", "exists already and is not recognisably this "
                         "plane's (its comment differs): creating it fails with 'already exists' unless this stack "
                         "already manages it",
                         f"bring it under the program: python -m stacks adopt-store --stack {desired.stack} --output "
                         "adopt.json, then the pulumi import it prints")
    for need in external_needs(desired):
        if need.kind == "store" and need.name not in existing:
            report.block(f"external secret {need.secret}", f"must already exist {need.where(desired)}, and it does not",
                         f"create it: {need.commands(desired)[0]} (wrangler asks for the value)")
    if store_id is not None:
        report.note("store", f"{len(existing)} secret(s) in store {store_id}; {len(creates)} to create, "
                             f"{len(planned) + len(desired.byok_keys) - len(creates)} already there")


def _check_worker(desired: DesiredState, worker: WorkerState, live: LiveAccount, report: PreflightReport,
                  script: Any) -> None:
    try:
        state = live.worker(worker.script_name)
    except CloudflareOperationError as exc:
        if _refused(_cause(exc) or exc):
            if not any(f.subject == "token" and "Worker scripts" in f.message for f in report.findings):
                _permission_blocker(report, "the account's Worker scripts", WORKERS_READ)
            return
        raise
    subject = _subject(worker)
    if state is None:
        if script is None:  # the listing was refused: this is where we learn it is missing
            report.block(subject, f"script '{worker.script_name}' does not exist in account {desired.account_id}",
                         f"deploy it first, or fix workers.{worker.worker}.script_name in secrets_manifest.yaml")
        return
    managed = {b.name: b for b in worker.bindings}
    # Every version a write may build on: the served ones, and the latest (the settings write's base).
    versions = [version for version, _ in state.served]
    if state.latest is not None and state.latest.id not in {v.id for v in versions}:
        versions.append(state.latest)
    taken_by: dict[str, str] = {}
    for version in versions:
        for name, binding in version.bindings.items():
            if name in managed and binding.get("type") not in SECRET_TYPES:
                taken_by.setdefault(name, str(binding.get("type")))
    for name, kind in sorted(taken_by.items()):
        report.block(subject, f"binding name '{name}' is taken by a {kind} binding the plane does not manage: the "
                              "write is refused before anything is written",
                     "rename it under `bindings:` in secrets_manifest.yaml, or remove the other binding from the "
                     "Worker's wrangler config")
    text = sum(1 for b in worker.bindings if b.kind == TEXT)
    served = [version.bindings for version, _ in state.served] or [{}]
    unmanaged_vars = max(sum(1 for name, b in bindings.items() if name not in managed and b.get("type") in ENV_VAR_TYPES)
                         for bindings in served)
    if text + unmanaged_vars > WORKER_ENV_VARS_MAX:
        report.block(subject, f"would hold {text + unmanaged_vars} environment variables ({text} secret_text of the plane "
                              f"+ {unmanaged_vars} vars and secrets already on the Worker), over the Workers limit of "
                              f"{WORKER_ENV_VARS_MAX}",
                     "move some secrets to the store (`backend: store`), drop fallback copies, or remove unused vars")
    for need in external_needs(desired):
        if need.kind == "worker" and worker.script_name in need.scripts:
            wrong = [b.get(need.name) for b in served if (b.get(need.name) or {}).get("type") != "secret_text"]
            if wrong:
                found = next((w for w in wrong if w is not None), None)
                report.block(subject, f"external secret {need.secret} must already be set on it as {need.name}"
                             + (f" (it is a {found.get('type')} binding)" if found else ""),
                             f"set it: wrangler secret put {need.name} --name {worker.script_name} (wrangler asks for "
                             "the value)")
    if not state.latest_serves_all and state.deployment is not None:
        _in_flight(worker, state, live, report)


def _in_flight(worker: WorkerState, state: LiveState, live: LiveAccount, report: PreflightReport) -> None:
    """The latest version does not serve all traffic (a gradual rollout, a rollback, an upload
    nobody deployed): the write copies each served version. Say what it will do, by the same
    rule the write applies (version_copies.refusals), on each served version read whole."""
    subject = _subject(worker)
    served = ", ".join(f"{vid} at {pct:g}%" for vid, pct in state.split)
    upload = state.undeployed_latest
    latest = ""
    if upload is not None:
        latest = (f"; the latest version {upload.describe()} serves no traffic" +
                  (" (copies an earlier run never deployed: superseded by the next write)" if upload.by_plane else
                   ": the write leaves it as it is, and it will not carry the change if it is deployed later "
                   "(upload it again after the apply)"))
    reasons = []
    for version_id, _ in state.split:
        source = live.version_source(worker.script_name, version_id)
        reasons += [f"version {version_id}: {reason}" for reason in refusals(source)]
    if reasons:
        report.note(subject, f"versions in flight ({served}){latest}; the write will be refused, nothing written: "
                             + "; ".join(reasons),
                    f"finish the rollout (wrangler versions deploy <version>@100% --name {worker.script_name}) or roll "
                    "back before the apply")
        return
    report.note(subject, f"versions in flight ({served}){latest}: the write will copy each served version with the "
                         "change (its code and settings kept) and deploy the copies at the same split; a version "
                         "uploaded but not deployed is never copied or deployed")


def render_text(report: PreflightReport) -> str:
    head = (f"preflight {report.stack} (account {report.account}): "
            + ("ok" if report.ok else f"{len(report.blockers)} blocker(s)")
            + f", {len(report.notices)} notice(s); {report.workers} Worker(s) and {report.store_secrets} store "
              f"secret(s) checked in {report.calls} read-only API call(s)")
    lines = [head] + ([f"scope: {report.scope}"] if report.scope else [])
    lines += [f.render() for f in report.blockers] + [f.render() for f in report.notices]
    return "\n".join(lines)


def render_json(report: PreflightReport) -> str:
    data = asdict(report)
    data.pop("findings")
    data.update(ok=report.ok, blockers=[asdict(f) for f in report.blockers], notices=[asdict(f) for f in report.notices])
    return json.dumps(data, indent=2)
