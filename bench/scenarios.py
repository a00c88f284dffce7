"""The apply scenarios the benchmark counts and times, each as `pulumi up` would run it (engine.py).

- counted: S secrets, W Workers, k bindings each, no latency: API calls (reads too), settings and
  secrets-bulk writes, Worker versions, resources created/updated/deleted;
- timed: the same account with 100 ms per request and Cloudflare's limit (1,200 requests per 5
  minutes, then 429 for five minutes), each scenario in a fresh limit window;
- pacing: a full refresh, the flip and a full canary back to back, where pacing has to work (no job of the workflow: bench/workflow.py counts those);
- a staged rollout of the shipped estate (phased adoption), counted step by step.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fake_cloudflare import FakeCloudflare, RateLimit

from bench.engine import Cost, Engine
from bench.estate import ACCOUNT, ROOT, STACK, STORE_ID, config, manifest, write_project
from stacks.api.client import make_client
from stacks.core.estate import load_estate
from stacks.live.account import LiveAccount
from stacks.live.canary import run_canary
from stacks.resources.offline import ProgramRun, run_program

UNMANAGED = [{"type": "plain_text", "name": "ENV", "text": "bench"},
             {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv"}]
LATENCY_S = 0.1


class Program:
    """The real program under mocks, for a manifest given as data (a project folder per run)."""

    def __init__(self, workdir: Path):
        self.workdir, self.runs = workdir, 0

    def run(self, data: dict[str, Any], values: dict[str, str] | None = None,
            previous: dict[str, str] | None = None) -> ProgramRun:
        self.runs += 1
        project = write_project(self.workdir / f"run{self.runs}", data)
        cfg, keys = config(data, values), ["secrets-plane:values"]
        if previous:  # an overlap window open, as `rotate` leaves the stack's config
            cfg["secrets-plane:previous"] = {n: {"value": v, "retires": "2099-01-01"} for n, v in previous.items()}
            keys.append("secrets-plane:previous")
        return run_program(project, STACK, cfg, keys)


def seeded_fake(data: dict[str, Any], latency: float = 0.0, limited: bool = False) -> FakeCloudflare:
    fake = FakeCloudflare().start()
    fake.add_store(ACCOUNT, STORE_ID)
    for worker in data["workers"].values():
        fake.add_script(ACCOUNT, worker["script_name"].replace("{stack}", STACK), UNMANAGED)
    fake.latency_s = latency
    if limited:
        fake.ratelimit = RateLimit()
    return fake


def counted(workdir: Path, s: int, w: int, k: int) -> list[Cost]:
    """Each change at S, W, k, counted at the fake (no latency)."""
    base = manifest(s, w, k)
    grown = manifest(s, w, k, extra_workers=1)
    shrunk = manifest(s, w, k, extra_workers=1, drop_secret="S001")
    flipped = {**shrunk, "backend": "store"}
    fake = seeded_fake(grown)
    engine = Engine(fake, ACCOUNT, STORE_ID)
    program = Program(workdir)
    try:
        return [
            engine.apply("first legacy apply", program.run(base)),
            engine.apply("rotate S000 (legacy, bound by every Worker)", program.run(base, {"S000": "rotated-1"})),
            engine.apply("add one Worker", program.run(grown, {"S000": "rotated-1"})),
            engine.apply("remove one secret (S001)", program.run(shrunk, {"S000": "rotated-1"})),
            engine.apply("flip legacy -> store", program.run(flipped, {"S000": "rotated-1"})),
            engine.apply("rotate S000 (store)", program.run(flipped, {"S000": "rotated-2"})),
            engine.refresh("refresh"),
            engine.apply("no-op apply after refresh", program.run(flipped, {"S000": "rotated-2"})),
        ]
    finally:
        engine.close()
        fake.stop()


def overlap(workdir: Path, s: int, w: int, k: int) -> list[Cost]:
    """Rotation with overlap of S000 (bound by every Worker, `overlap_days: 14`), on legacy and
    then on the store: each rotation, retirement and `--no-overlap`, as `rotate`/`retire` leave
    the config."""
    base = manifest(s, w, k)
    base["secrets"]["S000"]["overlap_days"] = 14
    flipped = {**base, "backend": "store"}
    fake = seeded_fake(base)
    engine = Engine(fake, ACCOUNT, STORE_ID)
    program = Program(workdir)
    v = {"S000": "v1"}
    try:
        costs = [engine.apply("first legacy apply (S000 with overlap_days)", program.run(base, v))]
        for data, where in ((base, "legacy"), (flipped, "store")):
            if where == "store":
                costs.append(engine.apply("flip legacy -> store", program.run(data, {"S000": "v1"})))
            costs += [
                engine.apply(f"rotate S000 ({where}, no window open)", program.run(data, {"S000": "v2"}, {"S000": "v1"})),
                engine.apply(f"rotate S000 ({where}, inside the window)", program.run(data, {"S000": "v3"}, {"S000": "v2"})),
                engine.apply(f"retire S000 ({where})", program.run(data, {"S000": "v3"})),
                engine.apply(f"rotate S000 --no-overlap ({where})", program.run(data, {"S000": "v1"})),
            ]
        return costs
    finally:
        engine.close()
        fake.stop()


def timed(workdir: Path, s: int, w: int, k: int) -> list[Cost]:
    """Wall-clock with 100 ms per request and the real limit, each scenario in a fresh window
    (scenarios at least five minutes apart)."""
    base = manifest(s, w, k)
    flipped = {**base, "backend": "store"}
    fake = seeded_fake(base, LATENCY_S, limited=True)
    engine = Engine(fake, ACCOUNT, STORE_ID)
    program = Program(workdir)
    steps = [("first legacy apply", base, None), ("rotate S000 (legacy, bound by all Workers)", base, {"S000": "r1"}),
             ("flip legacy -> store", flipped, {"S000": "r1"}), ("rotate S000 (store)", flipped, {"S000": "r2"})]
    costs = []
    try:
        for name, data, values in steps:
            run = program.run(data, values)  # evaluated before the clock starts, as `pulumi up` previews
            fake.ratelimit = RateLimit()
            costs.append(engine.apply(name, run))
        return costs
    finally:
        engine.close()
        fake.stop()


@dataclass
class CiRun:
    """A full refresh, the flip and a full canary under the real limit, and what each of its steps cost."""

    cost: Cost
    refresh_calls: int
    flip_calls: int
    canary_calls: int
    windows: int
    waits_shown: int  # messages the provider sent the engine while it waited


def ci_run(workdir: Path, s: int, w: int, k: int) -> CiRun:
    """`pulumi up --refresh` of the flip, then the canary, under the limit: as many windows as it needs."""
    base = manifest(s, w, k)
    flipped = {**base, "backend": "store"}
    fake = seeded_fake(base, LATENCY_S, limited=True)
    engine = Engine(fake, ACCOUNT, STORE_ID)
    program = Program(workdir)
    steps: dict[str, int] = {}
    try:
        engine.apply("first legacy apply", program.run(base))
        run = program.run(flipped)
        project = write_project(workdir / "ci-canary", flipped)
        estate = load_estate(project)
        fake.ratelimit = RateLimit()
        assert engine.host.engine is not None
        told = len(engine.host.engine.messages)

        def work(cost: Cost) -> None:
            start = len(fake.calls)
            refreshed = engine.refresh()
            steps["refresh"] = len(fake.calls) - start
            start = len(fake.calls)
            applied = engine.apply("flip", run)
            steps["flip"] = len(fake.calls) - start
            cost.waited_s += refreshed.waited_s + applied.waited_s
            start = len(fake.calls)
            live = LiveAccount(ACCOUNT, make_client("bench", fake.base_url))
            report = run_canary(estate.desired_state(STACK), live, {}, wait_s=0)
            steps["canary"] = len(fake.calls) - start
            if not report.ok:
                raise AssertionError(f"canary failed after the flip: {report.mismatches[:3]}")

        cost = engine.measure("pacing: a full refresh, the flip and a full canary", work)
        shown = sum(1 for _, _, m in engine.host.engine.messages[told:] if "waiting for the window" in m)
        return CiRun(cost, steps["refresh"], steps["flip"], steps["canary"], fake.ratelimit.windows, shown)
    finally:
        engine.close()
        fake.stop()


def preflight_calls(s: int, w: int, k: int) -> int:
    """API calls of `preflight` before the flip: every Worker live, the store empty, every store secret to create."""
    from stacks.live.preflight import run_preflight

    data = {**manifest(s, w, k), "backend": "store"}
    fake = seeded_fake(data)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            estate = load_estate(write_project(Path(scratch) / "preflight", data))
        desired = estate.desired_state(STACK)
        before = len(fake.calls)
        report = run_preflight(estate.manifest.manifest, desired, LiveAccount(ACCOUNT, make_client("bench", fake.base_url)))
        if report.blockers:
            raise AssertionError(f"preflight of the healthy estate found blockers: {report.blockers[:3]}")
        return len(fake.calls) - before
    finally:
        fake.stop()


# ---- phased adoption on the shipped estate ------------------------------------------------------

AI_KEYS = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "CEREBRAS_API_KEY", "GROQ_API_KEY",
           "OPENROUTER_API_KEY"]


def rollout_steps() -> list[tuple[str, dict[str, Any]]]:
    shipped = yaml.safe_load((ROOT / "secrets_manifest.yaml").read_text())
    steps = [("0. today: every Worker on Worker secrets", shipped)]
    one = _copy(shipped)
    one["workers"]["dev"]["backend"] = "store"
    steps.append(("1. the dev Worker to the store", one))
    two = _copy(one)
    for key in AI_KEYS:
        two["secrets"][key].update(backend="store", fallback=True)
    steps.append(("2. AI Gateway keys to the store, with fallback copies", two))
    three = _copy(two)
    three["backend"] = "store"
    for worker in three["workers"].values():
        worker["fallback"] = True
    steps.append(("3. the manifest default to store, fallback everywhere", three))
    four = _copy(three)
    for worker in four["workers"].values():
        worker.pop("fallback")
    for key in AI_KEYS:
        four["secrets"][key].pop("fallback")
    steps.append(("4. fallbacks removed after the canaries", four))
    return steps


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(yaml.safe_dump(data))


def staged_rollout(workdir: Path, stack: str = "staging") -> list[Cost]:
    """The staged rollout of docs/phased-adoption.md, on the shipped estate's staging stack."""
    steps = rollout_steps()
    estate = load_estate(ROOT)
    fake = FakeCloudflare().start()
    fake.add_store(ACCOUNT, STORE_ID)
    for worker in estate.desired_state(stack).workers:
        fake.add_script(ACCOUNT, worker.script_name, UNMANAGED)
    engine = Engine(fake, ACCOUNT, STORE_ID)
    costs = []
    try:
        for number, (name, data) in enumerate(steps):
            project = workdir / f"rollout{number}"
            project.mkdir(parents=True, exist_ok=True)
            for file in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "__main__.py"):
                shutil.copy(ROOT / file, project / file)
            (project / "secrets_manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
            values = {n: f"value-of-{n}" for n in data["secrets"]}
            cfg = {"secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID},
                   "secrets-plane:secretName": "{name}_STAGING", "secrets-plane:values": values}
            costs.append(engine.apply(name, run_program(project, stack, cfg, ["secrets-plane:values"])))
        return costs
    finally:
        engine.close()
        fake.stop()

