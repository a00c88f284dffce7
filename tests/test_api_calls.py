"""What a run reads, counted at the fake API: listings at the documented maximum page size with no
extra page, the audit in two calls per Worker whatever the number of credentials, and reads scoped
to what a run changes (scope.py, drift.py). Counts only, never times."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import FakeCloudflare, StoreSecret

from stacks.api.client import make_client
from stacks.live.account import LiveAccount


@pytest.fixture
def fake() -> FakeCloudflare:
    api = FakeCloudflare().start()
    yield api
    api.stop()


def _live(fake: FakeCloudflare) -> LiveAccount:
    return LiveAccount(ACCOUNT, make_client("t", fake.base_url))


def _seed_store(fake: FakeCloudflare, n: int) -> None:
    fake.add_store(ACCOUNT, STORE_ID)
    for i in range(n):
        fake.add_store_secret(STORE_ID, StoreSecret(id=f"id{i:03d}", name=f"S{i:03d}", scopes=["workers"]))


@pytest.mark.parametrize("secrets,calls", [(0, 1), (25, 1), (99, 1), (100, 1), (101, 2), (200, 2), (250, 3)])
def test_store_listing_reads_100_a_page_and_no_empty_page(fake: FakeCloudflare, secrets: int, calls: int) -> None:
    _seed_store(fake, secrets)
    found = _live(fake).store_secrets(STORE_ID)
    assert len(found) == secrets
    assert fake.count("GET", r"/secrets$") == calls
    assert all(r.query.get("per_page") == ["100"] for r in fake.requests if r.path.endswith("/secrets")), "the maximum"


def test_stores_listing_is_read_once_per_command(fake: FakeCloudflare) -> None:
    _seed_store(fake, 3)
    live = _live(fake)
    assert live.store_exists(STORE_ID) and live.find_store("default") == STORE_ID and live.stores()
    assert fake.count("GET", r"/stores$") == 1


def _audit_calls(tmp_path: Path, s: int, w: int, k: int, backend: str) -> int:
    import datetime as dt

    import bench  # noqa: F401
    from bench.estate import STACK, manifest, write_project
    from bench.scenarios import seeded_fake

    from stacks.core.estate import load_estate
    from stacks.live.audit import build_audit

    data = manifest(s, w, k, backend=backend)
    fake = seeded_fake(data)
    try:
        _seed_store(fake, 0)
        estate = load_estate(write_project(tmp_path / f"audit-{k}-{backend}", data))
        desired = estate.desired_state(STACK)
        for worker in desired.workers:  # every Worker serving what the manifest says, one version each
            fake.deploy(ACCOUNT, worker.script_name, [
                {"type": "secret_text", "name": b.name, "text": "x"} if b.kind == "secret_text" else
                {"type": "secrets_store_secret", "name": b.name, "store_id": STORE_ID,
                 "secret_name": b.store_secret_name} for b in worker.bindings])
        for spec in desired.store_secrets:
            fake.add_store_secret(STORE_ID, StoreSecret(id=spec.store_secret_name, name=spec.store_secret_name,
                                                        scopes=list(spec.scopes)))
        before = len(fake.calls)
        report = build_audit(estate, desired, _live(fake), dt.date(2026, 12, 1))
        assert all(c.status == "ok" for c in report.credentials), [c.status for c in report.credentials][:3]
        return len(fake.calls) - before
    finally:
        fake.stop()


@pytest.mark.parametrize("backend", ["legacy", "store"])
def test_audit_reads_each_worker_once_whatever_the_number_of_credentials(tmp_path: Path, backend: str) -> None:
    w = 6
    few, many = _audit_calls(tmp_path, 12, w, 2, backend), _audit_calls(tmp_path, 12, w, 10, backend)
    assert few == many, "audit's calls grow with the credentials a Worker holds"
    assert many <= 2 * w + 6  # the target: two per Worker plus the listings
    assert many == 2 * w + (1 if backend == "store" else 0)  # store mode: the secrets listing (the store is adopted)
