"""The benchmark's counts are deterministic: assert the targets (times are never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.estate import manifest
from bench.scenarios import run_scenarios
from stacks.core.desired_state import build_desired_state
from stacks.core.manifest import Manifest
from stacks.core.stack_config import StackSettings

S, W, K = 12, 6, 4


@pytest.fixture(scope="module")
def costs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return {c.scenario.split(" (")[0] if not c.scenario.startswith("rotate") else c.scenario: c
            for c in run_scenarios(Path(tmp_path_factory.mktemp("bench")), S, W, K)}


def test_first_legacy_apply_is_one_version_per_worker(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["first legacy apply"]
    assert (c.settings_writes, c.worker_versions) == (W, W)
    assert c.wrangler_versions == sum(len(w["secrets"]) for w in manifest(S, W, K)["workers"].values())
    assert c.wrangler_versions > c.worker_versions


def test_legacy_rotation_is_one_write_per_worker_binding_it(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["rotate S000 (legacy, bound by every Worker)"]
    assert (c.updated, c.settings_writes, c.worker_versions) == (W, W, W)


def test_store_rotation_updates_one_resource_and_no_worker(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["rotate S000 (store)"]
    assert (c.updated, c.updated_names) == (1, ["secret-S000"])
    assert (c.settings_writes, c.worker_versions) == (0, 0)


def test_add_worker_is_one_write(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["add one Worker"]
    assert (c.created, c.updated, c.settings_writes, c.worker_versions) == (1, 0, 1, 1)


def test_remove_secret_writes_only_workers_that_bound_it(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["remove one secret"]
    holders = sum(1 for w in manifest(S, W, K, extra_workers=1)["workers"].values() if "S001" in w["secrets"])
    assert c.settings_writes == c.worker_versions == c.updated == holders


def test_flip_is_one_write_per_worker_plus_one_store_secret_each(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["flip legacy -> store"]
    assert c.settings_writes == c.worker_versions == W + 1
    assert c.store_secret_creates == S - 1
    assert c.deleted == 0, "the flip replaces nothing"


def test_noop_after_refresh_writes_nothing(costs) -> None:  # type: ignore[no-untyped-def]
    c = costs["no-op apply after refresh"]
    assert (c.created, c.updated, c.deleted, c.settings_writes, c.worker_versions) == (0, 0, 0, 0, 0)


def test_desired_state_at_the_limits_has_one_entry_per_binding() -> None:
    """100 secrets x 200 Workers x 25 bindings: one entry per binding, one store secret per secret
    (the time curve is the benchmark's job, not a test's)."""
    data = manifest(100, 200, 25, "store")
    m = Manifest.model_validate(data)
    settings = StackSettings.model_validate({"stack": "bench", "accountId": "a" * 32,
                                             "store": {"adopt": "b" * 32}})
    desired = build_desired_state(m, settings)
    assert len(desired.store_secrets) == 100
    assert sum(len(w.bindings) for w in desired.workers) == sum(len(w["secrets"]) for w in data["workers"].values())
