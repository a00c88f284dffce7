"""The shipped workflow's jobs, step by step, counted at the fake account (.github/workflows/
secrets-plane.yml): what each job costs the user's API budget, per change.

- a preview job (the pull request's `preview staging`, and `preview production` after merge):
  `stacks scope --no-refresh`, `stacks preflight --scope`, `pulumi preview`;
- an apply job (`apply staging, canary` and `apply production, canary`): `stacks scope` (the
  Workers deployed since the last read refreshed), `stacks preflight --scope`, `pulumi up`,
  `pulumi preview --expect-no-changes`, `stacks canary --scope`;
- the scheduled job (per stack): `stacks canary --all`;
- `audit`, run by hand.

Each step runs the plane's own code on the fake (the listing, the refresh through the real
dynamic-provider host, preflight, the canary) except what the Pulumi CLI does itself: reading the
stack's outputs and state (no Cloudflare call), the engine's diff (offline: the provider's Diff,
through the same host), and pulumi-cloudflare's calls, made here as the SDK calls they are: the
`getSecretsStore` invoke of an adopted store (one `GET .../stores/{id}` per preview or update), a
store secret's create or update (engine.py).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_cloudflare import FakeCloudflare
from pulumi.runtime.proto import provider_pb2

from bench.engine import Engine
from bench.estate import ACCOUNT, STACK, STORE_ID, manifest, write_project
from bench.scenarios import Program, seeded_fake
from stacks.api.client import make_client
from stacks.core import naming
from stacks.core.desired_state import DesiredState
from stacks.core.estate import load_estate
from stacks.core.naming import BINDINGS_TYPE, STORE_SECRET_TYPE, store_secret_resource
from stacks.core.scope import Scope, listed_as_of_in
from stacks.core.verified import verified_of
from stacks.live.account import LiveAccount
from stacks.live.audit import build_audit
from stacks.live.canary import run_canary
from stacks.live.preflight import run_preflight
from stacks.ops.pulumi_cli import PulumiResult
from stacks.ops.scope import derive_scope
from stacks.resources.offline import ProgramRun, reveal

WINDOW = 1200
RESERVE = 0.10  # what the pacer keeps back (SECRETS_PLANE_RATE_RESERVE)
USABLE = int(WINDOW * (1 - RESERVE))


@dataclass
class Job:
    change: str
    job: str
    steps: dict[str, int] = field(default_factory=dict)
    scope: str = ""

    @property
    def calls(self) -> int:
        return sum(self.steps.values())

    @property
    def windows(self) -> int:
        """Five-minute windows the job spans at 1,080 usable calls each (the reserve kept back)."""
        return max(1, math.ceil(self.calls / USABLE))


class Workflow:
    """One stack's account and engine state, and the workflow's jobs run against them."""

    def __init__(self, workdir: Path, fake: FakeCloudflare):
        self.workdir, self.fake = workdir, fake
        self.engine = Engine(fake, ACCOUNT, STORE_ID)
        self.program = Program(workdir)
        self.runs = 0
        self.listed_as_of: str | None = None  # the stack output the last apply recorded

    def close(self) -> None:
        self.engine.close()

    def _live(self) -> LiveAccount:
        return LiveAccount(ACCOUNT, make_client("bench", self.fake.base_url))

    def _counted(self, job: Job, step: str, work: Any) -> Any:
        before = len(self.fake.calls)
        result = work()
        job.steps[step] = job.steps.get(step, 0) + len(self.fake.calls) - before
        return result

    def _invoke(self) -> None:
        """pulumi-cloudflare's getSecretsStore invoke of the adopted store, in every preview and update."""
        make_client("bench", self.fake.base_url).secrets_store.stores.get(STORE_ID, account_id=ACCOUNT)

    # ---- the engine's offline diff -------------------------------------------------------------
    def _would_write(self, run: ProgramRun) -> tuple[list[str], list[str]]:
        """What `pulumi preview` (no refresh) shows changing: the provider's own Diff for each bindings
        resource (through the host, no call), inputs against state for a store secret."""
        host, scripts, secrets = self.engine.host, [], []
        new = {r.urn: r for r in run.resources}
        for urn, res in new.items():
            name = urn.rsplit("::", 1)[1]
            inputs = reveal(res.inputs)
            if res.type == BINDINGS_TYPE:
                state = self.engine.state.get(urn)
                props = {k: inputs[k] for k in ("account_id", "script_name", "worker", "stack", "bindings", "values")}
                if state is None:
                    scripts.append(name)
                    continue
                olds = {k: v for k, v in state.items() if k != "_id"}
                checked, _ = host.check(name, olds, props)
                checked.pop("__provider", None)
                if host.diff(name, state["_id"], olds, checked).changes == provider_pb2.DiffResponse.DIFF_SOME:
                    scripts.append(name)
            elif res.type == STORE_SECRET_TYPE and self.engine.inputs.get(urn) != inputs:
                secrets.append(name.removeprefix("secret-"))
        for urn in self.engine.inputs:
            if urn not in new and BINDINGS_TYPE in urn:
                scripts.append(urn.rsplit("::", 1)[1])
        return sorted(scripts), sorted(secrets)

    def _scope(self, job: Job, run: ProgramRun, desired: Any, refresh: bool) -> Scope:
        """`stacks scope` itself (ops/scope.py), its `pulumi` commands answered from the engine: the
        stack outputs (what the last apply recorded), a targeted refresh, the preview's steps."""
        def pulumi(args: Any, _project: Path) -> PulumiResult:
            if args[0] == "stack":
                record = {u.rsplit("::", 1)[1]: st.get("served_as_of") for u, st in self.engine.state.items()
                          if BINDINGS_TYPE in u}
                return PulumiResult(0, json.dumps({"served_as_of": record, "listed_as_of": self.listed_as_of}), "")
            if args[0] == "refresh":
                self.engine.refresh_only([a.rsplit("::", 1)[1] for a in args if "::" in a])
                return PulumiResult(0, "", "")
            self._invoke()  # `pulumi preview --json`
            workers, secrets = self._would_write(run)
            steps = [{"op": "update", "urn": naming.urn(STACK, BINDINGS_TYPE, w)} for w in workers]
            steps += [{"op": "update", "urn": naming.urn(STACK, STORE_SECRET_TYPE, store_secret_resource(x))} for x in secrets]
            return PulumiResult(0, json.dumps({"steps": steps}), "")

        return self._counted(job, "scope", lambda: derive_scope(self.workdir, STACK, desired, self._live(),
                                                               refresh=refresh, run=pulumi)).scope

    def _desired(self, data: dict[str, Any]) -> tuple[Any, Any]:
        self.runs += 1
        estate = load_estate(write_project(self.workdir / f"checks{self.runs}", data))
        return estate, estate.desired_state(STACK)

    # ---- jobs ----------------------------------------------------------------------------------
    def setup(self, data: dict[str, Any], values: dict[str, str] | None = None) -> None:
        self.engine.apply("setup", self.program.run(data, values))

    def _scoped_preflight(self, job: Job, data: dict[str, Any], values: dict[str, str] | None,
                          refresh: bool) -> tuple[ProgramRun, DesiredState, Scope]:
        """The steps every job starts with: the program, its scope, preflight on that scope."""
        run = self.program.run(data, values)
        estate, desired = self._desired(data)
        scope = self._scope(job, run, desired, refresh=refresh)
        report = self._counted(job, "preflight", lambda: run_preflight(estate.manifest.manifest, desired,
                                                                        self._live(), scope=scope))
        if report.blockers:
            raise AssertionError(f"{job.change}: preflight found blockers: {report.blockers[:3]}")
        return run, desired, scope

    def preview_job(self, change: str, data: dict[str, Any], values: dict[str, str] | None = None) -> Job:
        job = Job(change, "preview (pull request; production after merge)")
        _, _, scope = self._scoped_preflight(job, data, values, refresh=False)
        self._counted(job, "pulumi preview", self._invoke)
        job.scope = scope.describe()
        return job

    def apply_job(self, change: str, data: dict[str, Any], values: dict[str, str] | None = None) -> Job:
        job = Job(change, "apply (each stack)")
        run, desired, scope = self._scoped_preflight(job, data, values, refresh=True)

        def up() -> None:
            self._invoke()
            self.engine.apply(change, run)

        self._counted(job, "pulumi up", up)
        # What the program exports from the scope file the workflow names (SECRETS_PLANE_SCOPE).
        self.listed_as_of = listed_as_of_in(json.dumps(scope.as_json()))
        self._counted(job, "preview --expect-no-changes", self._invoke)
        if self._would_write(run) != ([], []):
            raise AssertionError(f"{change}: a second preview still finds changes")
        # The stack output `verified` the canary reads (program.py), from the state the apply left.
        verified = verified_of({"verified": {u.rsplit("::", 1)[1]: st.get("verified") for u, st in self.engine.state.items()
                                             if BINDINGS_TYPE in u}})
        canary = self._counted(job, "canary", lambda: run_canary(desired, self._live(), {}, wait_s=0, scope=scope,
                                                                 verified=None if scope.full else verified))
        if not canary.ok:
            raise AssertionError(f"{change}: canary failed: {canary.mismatches[:3]}")
        job.scope = scope.describe()
        return job

    def scheduled_job(self, data: dict[str, Any]) -> Job:
        job = Job("scheduled (daily)", "full drift check and canary (each stack)")
        _, desired = self._desired(data)
        canary = self._counted(job, "canary --all", lambda: run_canary(
            desired, self._live(), {}, wait_s=0, scope=Scope.everything("asked for with --all")))
        if not canary.ok:
            raise AssertionError(f"scheduled canary failed: {canary.mismatches[:3]}")
        return job

    def audit(self, data: dict[str, Any]) -> Job:
        job = Job("audit", "by hand")
        estate, desired = self._desired(data)
        self._counted(job, "audit", lambda: build_audit(estate, desired, self._live(), dt.date(2026, 12, 1)))
        return job


def holders(data: dict[str, Any], secret: str) -> int:
    return sum(1 for w in data["workers"].values() if secret in w["secrets"])


LEGACY_ROTATED = "S001"


def workflow_jobs(workdir: Path, s: int, w: int, k: int) -> list[Job]:
    """Every change of the issue's list through the workflow's jobs, one account, in order."""
    base = manifest(s, w, k)
    grown = manifest(s, w, k, extra_workers=1)
    flipped = {**grown, "backend": "store"}
    fake = seeded_fake(grown)
    flow = Workflow(workdir, fake)
    jobs: list[Job] = []
    try:
        flow.setup(base)
        # The stack as an earlier version of the plane left it: no listing recorded yet, so this run
        # reads the whole listing back to the oldest record, and records how far it reached.
        jobs.append(flow.apply_job("the first run that records its listing (no change)", base))
        jobs.append(flow.preview_job("no-op merge", base))
        jobs.append(flow.apply_job("no-op merge", base))
        rotated = {LEGACY_ROTATED: "rotated-1"}
        name = f"legacy rotation of {LEGACY_ROTATED} (h={holders(base, LEGACY_ROTATED)} holders)"
        jobs.append(flow.preview_job(name, base, rotated))
        jobs.append(flow.apply_job(name, base, rotated))
        jobs.append(flow.preview_job("add one Worker", grown, rotated))
        jobs.append(flow.apply_job("add one Worker", grown, rotated))
        jobs.append(flow.preview_job("the flip (legacy -> store)", flipped, rotated))
        jobs.append(flow.apply_job("the flip (legacy -> store)", flipped, rotated))
        # The flip's own deploys are newer than its listing: the next run lists them once more.
        jobs.append(flow.apply_job("the first run after the flip (no change)", flipped, rotated))
        again = {**rotated, "S000": "rotated-2"}
        jobs.append(flow.preview_job("one store rotation (S000)", flipped, again))
        jobs.append(flow.apply_job("one store rotation (S000)", flipped, again))
        jobs.append(flow.apply_job("no-op merge, store", flipped, again))
        jobs.append(flow.scheduled_job(flipped))
        jobs.append(flow.audit(flipped))
        return jobs
    finally:
        flow.close()
        fake.stop()


def target(job: Job, w: int, h: int) -> str:
    """The issue's target for a job, where it set one."""
    apply = job.job.startswith("apply")
    if job.change.startswith("no-op") and apply:
        return "<= 5"
    if job.change.startswith("one store rotation") and apply:
        return "<= 10"
    if job.change.startswith("legacy rotation") and apply:
        return f"<= 5h + 10 = {5 * h + 10}"
    if job.change == "add one Worker":
        return "<= 15" if apply else "<= 20 (a one-Worker pull request)"
    if job.change.startswith("the flip") and apply:
        return f"<= 6W + 10 = {6 * w + 10}"
    if job.change == "audit":
        return f"<= 2W + 6 = {2 * w + 6}"
    if job.change.startswith("scheduled"):
        return f"<= 3W + 10 = {3 * w + 10}"
    return ""


def section(workdir: Path, s: int, w: int, k: int) -> list[str]:
    """The workflow table for docs/performance.md, from one run."""
    jobs = workflow_jobs(workdir, s, w, k)
    h = holders(manifest(s, w, k), LEGACY_ROTATED)
    lines = [f"The shipped workflow's jobs, step by step, at S={s}, W={w}, k={k}, counted at the fake account "
             "(bench/workflow.py; each change after the one above it, the record of the last run in the stack). A "
             f"window is five minutes of Cloudflare's 1,200 calls, {USABLE} of them usable with the pacer's 10% "
             "reserve; `pulumi preview` and `pulumi up` each read the adopted store once (pulumi-cloudflare's "
             "getSecretsStore):", "",
             "| change | job | API calls | by step | windows | target | read |", "|---|---|---|---|---|---|---|"]
    for job in jobs:
        steps = ", ".join(f"{name} {count}" for name, count in job.steps.items())
        lines.append(f"| {job.change} | {job.job} | {job.calls} | {steps} | {job.windows} | {target(job, w, h)} | "
                     f"{job.scope or '-'} |")
    return lines
