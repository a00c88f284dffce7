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
