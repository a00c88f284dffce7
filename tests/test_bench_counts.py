"""The benchmark's counts at docs/performance.md's own sizes (S=100 secrets, W=200 Workers, k=25 bindings
each), and pacing under Cloudflare's rate limit. Counts only: times are never asserted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import RateLimit

import bench  # noqa: F401
from bench.engine import Cost, Engine
from bench.estate import manifest
from bench.scenarios import Program, counted, overlap, seeded_fake, staged_rollout

# The counted estate is built once per process: under xdist, the tests that read it share one
# worker (the others run anywhere).
SHARED_ESTATE = pytest.mark.xdist_group("bench-counts")

S, W, K = 100, 200, 25
BASE = manifest(S, W, K)
GROWN = manifest(S, W, K, extra_workers=1)


def holders(data: dict[str, Any], secret: str) -> int:
    return sum(1 for w in data["workers"].values() if secret in w["secrets"])


@pytest.fixture(scope="module")
def costs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cost]:
    return {c.scenario: c for c in counted(Path(tmp_path_factory.mktemp("bench")), S, W, K)}


@SHARED_ESTATE
def test_first_legacy_apply_is_one_call_per_worker(costs: dict[str, Cost]) -> None:
    c = costs["first legacy apply"]
    assert (c.created, c.api_calls, c.bulk_writes, c.settings_writes, c.worker_versions) == (W, W, W, 0, W)


@SHARED_ESTATE
def test_legacy_rotation_is_one_call_per_worker_binding_it(costs: dict[str, Cost]) -> None:
    c = costs["rotate S000 (legacy, bound by every Worker)"]
    assert holders(BASE, "S000") == W
    assert (c.updated, c.api_calls, c.bulk_writes, c.worker_versions) == (W, W, W, W)


@SHARED_ESTATE
def test_add_worker_is_one_call(costs: dict[str, Cost]) -> None:
    c = costs["add one Worker"]
    assert (c.created, c.updated, c.api_calls, c.worker_versions) == (1, 0, 1, 1)


@SHARED_ESTATE
def test_remove_secret_is_one_call_per_worker_that_bound_it(costs: dict[str, Cost]) -> None:
    c = costs["remove one secret (S001)"]
    n = holders(GROWN, "S001")
    assert n == 49 and (c.updated, c.api_calls, c.bulk_writes, c.worker_versions) == (n, n, n, n)


@SHARED_ESTATE
def test_flip_is_three_calls_per_worker_plus_one_per_store_secret(costs: dict[str, Cost]) -> None:
    c = costs["flip legacy -> store"]
    workers, secrets = W + 1, S - 1
    assert (c.store_created, c.updated, c.deleted) == (secrets, workers, 0), "the flip replaces nothing"
    assert c.settings_writes == c.worker_versions == workers and c.bulk_writes == 0
    assert c.api_calls == secrets + 3 * workers, "read settings, write settings, list versions: at most 3"


@SHARED_ESTATE
def test_store_rotation_is_one_call_and_no_worker(costs: dict[str, Cost]) -> None:
    c = costs["rotate S000 (store)"]
    assert (c.updated, c.updated_names, c.api_calls, c.worker_versions) == (1, ["secret-S000"], 1, 0)


@SHARED_ESTATE
def test_refresh_reads_what_serves(costs: dict[str, Cost]) -> None:
    """Per Worker its deployment and its newest versions (what serves, not the latest version);
    per store secret one read."""
    c = costs["refresh"]
    assert c.api_calls == 2 * (W + 1) + (S - 1) and c.worker_versions == 0


@SHARED_ESTATE
def test_noop_after_refresh_makes_no_call(costs: dict[str, Cost]) -> None:
    c = costs["no-op apply after refresh"]
    assert (c.created, c.updated, c.deleted, c.api_calls, c.worker_versions) == (0, 0, 0, 0, 0)


def test_staged_rollout_of_the_shipped_estate(tmp_path: Path) -> None:
    """docs/phased-adoption.md, the staged rollout: each step in one write per changed Worker, none for the others."""
    steps = {c.scenario.split(".")[0]: c for c in staged_rollout(tmp_path)}
    dev = steps["1"]
    assert (dev.store_created, dev.updated, dev.settings_writes, dev.worker_versions) == (7, 1, 1, 1)
    ai = steps["2"]  # api, context and preview bind AI keys through the store now; dev gains copies only
    assert (ai.store_created, ai.updated, ai.settings_writes, ai.bulk_writes, ai.worker_versions) == (4, 4, 3, 1, 4)
    default = steps["3"]
    assert (default.store_created, default.updated, default.worker_versions) == (14, 5, 5)
    removed = steps["4"]  # the copies go in one secrets-bulk call per Worker
    assert (removed.store_created, removed.updated, removed.bulk_writes, removed.settings_writes,
            removed.api_calls) == (0, 5, 5, 0, 5)


@pytest.mark.parametrize("order", ["rt", "tr"], ids=["r-then-t", "t-then-r"])
def test_an_apply_over_the_limit_paces_itself_and_never_meets_a_429(tmp_path: Path, order: str) -> None:
    """A quota of 40 requests per 12-second window (the shape of Cloudflare's 1,200 per 5 minutes):
    a flip of 15 Workers needs 15 + 45 calls, so it must wait for the window, and never trip it,
    whatever the order of the `Ratelimit` header's parameters. Each wait is shown in the engine's
    output beside the resource that waits: for how long, why, and how many calls are left. (The
    window is long enough that 40 calls fit in it on a loaded machine: a shorter one could reset
    before the quota is reached, and there would be nothing to wait for.)"""
    data = manifest(15, 15, 3)
    fake = seeded_fake(data)
    engine = Engine(fake, ACCOUNT, STORE_ID, env={"SECRETS_PLANE_RATE_RESERVE": "4"})
    program = Program(tmp_path)
    try:
        engine.apply("first", program.run(data))
        fake.ratelimit = RateLimit(quota=40, window_s=12, order=order)
        cost = engine.apply("flip", program.run({**data, "backend": "store"}))
    finally:
        engine.close()
        fake.stop()
    assert cost.api_calls == 15 + 3 * 15
    assert cost.rate_limited == 0, "the account was never locked out"
    assert cost.waited_s > 0, "it waited for the window instead"
    # An operation that waited a second or more says so in the provider's log.
    said = "waited" in engine.host.stderr_tail.decode(errors="replace")
    assert said == (cost.longest_wait_s >= 1), (cost.longest_wait_s, said)
    assert engine.host.engine is not None
    waits = [(urn, message) for _, urn, message in engine.host.engine.messages if "waiting for the window" in message]
    assert waits, "the engine was told while the provider waited"
    for urn, message in waits:
        script = urn.rsplit("::", 1)[1]
        assert urn == f"urn:pulumi:bench::secrets-plane::secrets-plane:index:SecretsPlane$" \
                      f"pulumi-python:dynamic/secrets-plane:WorkerSecretBindings::{script}"
        assert re.fullmatch(rf"secrets-plane: apply Worker '\w+' \(script '{script}'\): \d+ of 40 calls left in "
                            r"Cloudflare's API window \('default'\), 4 kept for the dashboard and other tokens: "
                            r"waiting for the window to reset \(\d+ s\)", message), message
    assert all(b["type"] == "secrets_store_secret" for s in fake.scripts.values() for b in s.bindings
               if b["name"].startswith("S"))


def test_rotation_with_overlap_writes_what_each_slot_needs(tmp_path: Path) -> None:
    """S000 with `overlap_days`, bound by every Worker: on legacy every rotation, retirement and
    `--no-overlap` is one secrets-bulk call and one version per Worker (both values in one call);
    on the store only store secrets change: one when a single slot changes, two when both do."""
    s, w, k = 10, 20, 4
    got = {c.scenario: c for c in overlap(tmp_path, s, w, k)}

    def counts(name: str) -> tuple[int, int, int, int, int]:
        c = got[name]
        return c.store_updated, c.api_calls, c.bulk_writes, c.settings_writes, c.worker_versions

    for name in ("rotate S000 (legacy, no window open)", "rotate S000 (legacy, inside the window)",
                 "retire S000 (legacy)", "rotate S000 --no-overlap (legacy)"):
        assert counts(name) == (0, w, w, 0, w), name
    assert got["flip legacy -> store"].store_created == s + 1, "S000_PREVIOUS is one more store secret"
    assert counts("rotate S000 (store, no window open)") == (1, 1, 0, 0, 0)
    assert counts("rotate S000 (store, inside the window)") == (2, 2, 0, 0, 0)
    assert counts("retire S000 (store)") == (1, 1, 0, 0, 0)
    assert counts("rotate S000 --no-overlap (store)") == (2, 2, 0, 0, 0)


# ---- the workflow's jobs, step by step (bench/workflow.py) ---------------------------------------

@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[tuple[str, str], Any]]:
    from bench.workflow import workflow_jobs

    return {w: {(j.change, j.job): j for j in workflow_jobs(Path(tmp_path_factory.mktemp(f"wf{w}")), 20, w, 4)}
            for w in (12, 36)}


def _job(jobs: dict[tuple[str, str], Any], change: str, kind: str) -> Any:
    return next(j for (c, name), j in jobs.items() if c.startswith(change) and name.startswith(kind))


@SHARED_ESTATE
def test_the_everyday_jobs_do_not_grow_with_the_workers(workflow: dict[int, dict[tuple[str, str], Any]]) -> None:
    for change, kind in (("no-op merge", "apply"), ("no-op merge", "preview"), ("one store rotation", "apply"),
                         ("add one Worker", "apply"), ("add one Worker", "preview"), ("no-op merge, store", "apply")):
        small, large = _job(workflow[12], change, kind), _job(workflow[36], change, kind)
        assert small.steps == large.steps, (change, kind, small.steps, large.steps)


@SHARED_ESTATE
def test_a_no_op_merge_reads_the_listing_and_the_store_lookups_only(
        workflow: dict[int, dict[tuple[str, str], Any]]) -> None:
    job = _job(workflow[36], "no-op merge", "apply")
    assert job.steps == {"scope": 2, "preflight": 0, "pulumi up": 1, "preview --expect-no-changes": 1, "canary": 0}
    rotation = _job(workflow[36], "one store rotation", "apply")
    assert rotation.steps["canary"] <= 2 and rotation.steps["pulumi up"] == 2, rotation.steps  # lookup + the PATCH


@SHARED_ESTATE
def test_the_workflow_targets_that_scale(workflow: dict[int, dict[tuple[str, str], Any]]) -> None:
    from bench.estate import manifest
    from bench.workflow import LEGACY_ROTATED

    w = 36
    h = holders(manifest(20, w, 4), LEGACY_ROTATED)
    assert _job(workflow[w], "legacy rotation", "apply").calls <= 5 * h + 10
    assert _job(workflow[w], "audit", "by hand").calls <= 2 * (w + 1) + 6
    assert _job(workflow[w], "scheduled", "full").calls <= 3 * (w + 1) + 10
    assert _job(workflow[w], "add one Worker", "preview").calls <= 20
