"""Cloudflare's rate-limit headers read as the structured fields they are, and a 429 that stops an
operation named for what it is (the account's window, or one script's concurrent writes) with
exactly what had landed before it."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES, host_env
from fake_cloudflare import Fault
from provider_host import HostError, ProviderHost
from test_in_flight import applied, rotated
from test_worker_bindings import legacy_props

from stacks.api.ratelimit import LimitItem, Pacer, Wait, parse_policy, parse_ratelimit

# The exact strings of Cloudflare's docs (developers.cloudflare.com/fundamentals/api/reference/limits/,
# "Rate limiting headers", and the 2025-09-03 changelog that introduced them).
DOCS_RATELIMIT = '"default";r=50;t=30'
DOCS_POLICY = '"burst";q=100;w=60'


def test_the_docs_examples_parse() -> None:
    assert parse_ratelimit(DOCS_RATELIMIT) == [LimitItem("default", 50, 30)]
    assert parse_policy(DOCS_POLICY) == {"burst": 100}


@pytest.mark.parametrize("header", ['"default";t=30;r=50', '"default";r=50;t=30', '"default";r=50;foo=1;t=30',
                                    "default;r=50;t=30"])
def test_parameters_are_read_by_name_in_any_order(header: str) -> None:
    # (A bare token names an item as well as a string does: only the parameters decide.)
    assert parse_ratelimit(header) == [LimitItem("default", 50, 30)]


@pytest.mark.parametrize("header", ["", "garbage ;;;", '"default";r=fifty;t=30', '"default";r=50', '"default";r=?1;t=3'])
def test_a_header_that_says_nothing_usable_is_ignored(header: str) -> None:
    assert parse_ratelimit(header) == []


def _response(ratelimit: str, policy: str = "", status: int = 200) -> httpx.Response:
    headers = {"ratelimit": ratelimit}
    if policy:
        headers["ratelimit-policy"] = policy
    return httpx.Response(status, headers=headers)


def test_several_limits_the_most_restrictive_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two limits: plenty left in the five-minute window, but the burst window is at its reserve."""
    monkeypatch.delenv("SECRETS_PLANE_RATE_RESERVE", raising=False)
    pacer = Pacer()
    pacer.acquire()
    pacer.release(_response('"default";r=1100;t=250, "burst";r=10;t=2',
                            '"default";q=1200;w=300, "burst";q=100;w=60'))
    heard: list[Wait] = []
    with pacer.listen(heard.append):
        started = time.monotonic()
        pacer.acquire()
    assert 1.5 <= time.monotonic() - started < 5, "waited for the burst window (2 s), not the 250 s one"
    assert len(heard) == 1 and "10 of 100 calls left in Cloudflare's API window ('burst'), 10 kept" in heard[0].reason


def test_a_policy_names_each_limits_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """With its policy, 150 left of 1,200 is above the 120 reserve: no wait. Read as a quota of
    100 (the docs' burst policy), it would be."""
    monkeypatch.delenv("SECRETS_PLANE_RATE_RESERVE", raising=False)
    pacer = Pacer()
    pacer.acquire()
    pacer.release(_response('"default";r=150;t=250', '"default";q=1200;w=300, ' + DOCS_POLICY))
    heard: list[Wait] = []
    with pacer.listen(heard.append, this_thread=False):
        pacer.acquire()
    assert heard == []
    assert pacer.limits["default"].quota == 1200


# ---- a 429 that stops an operation ----------------------------------------------------------------

@pytest.fixture
def quick_host(fake):  # type: ignore[no-untyped-def]
    """A provider host whose SDK does not retry: each 429 below is the last answer."""
    h = ProviderHost(host_env(fake, "t", SECRETS_PLANE_MAX_RETRIES="0"))
    yield h
    h.close()


def _last_line(info: pytest.ExceptionInfo[HostError]) -> str:
    assert CANARY_PREFIX not in info.value.details
    return info.value.details.strip().splitlines()[-1]


def test_a_429_of_the_spent_account_window_names_it_and_the_batches_written(fake, quick_host):  # type: ignore[no-untyped-def]
    names = [f"S{i:03d}" for i in range(110)]
    fake.add_script(ACCOUNT, "w", [])
    fake.faults.append(Fault("PATCH", r"/scripts/w/secrets-bulk$", status=429, after=1, retry_after=0,
                             headers={"Ratelimit": '"default";t=300;r=0'}))
    with pytest.raises(HostError) as info:
        quick_host.up("w", None, legacy_props("w", names))
    message = _last_line(info)
    assert "still rate-limited (429)" in message
    assert "the account's API window is spent (Cloudflare allows 1,200 requests per 5 minutes per user" in message
    assert "Before it: 1 of 2 secrets-bulk write(s) made (1 new version(s))" in message
    assert "Wait five minutes and re-run: a re-run converges from there." in message
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_429"] += 1
    FIGURES["faults_clear_errors"] += 1


def test_a_429_of_concurrent_writes_to_one_script_is_not_blamed_on_the_account(fake, quick_host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    fake.faults.append(Fault("PATCH", r"/scripts/w/secrets-bulk$", status=429, retry_after=0,
                             headers={"Ratelimit": '"default";r=900;t=120'}))
    with pytest.raises(HostError) as info:
        quick_host.up("w", None, legacy_props("w", ["A"]))
    message = _last_line(info)
    assert "too many writes to this script at once (the secrets-bulk endpoint limits concurrent writes" in message
    assert "account's API window is spent" not in message
    assert "Before it: nothing was written to this Worker" in message
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_429"] += 1
    FIGURES["faults_clear_errors"] += 1


def test_a_429_during_a_rollout_write_says_the_copies_are_uploaded_and_nothing_deployed(fake, quick_host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, quick_host)
    old = script.latest.id
    new = fake.upload_version(ACCOUNT, "w", code=b"export default { v: 2 }")
    script.deploy([(new.id, 10.0), (old, 90.0)])
    split = script.deployment.versions
    fake.faults.append(Fault("POST", r"/scripts/w/deployments$", status=429, retry_after=0,
                             headers={"Ratelimit": '"default";r=0;t=200'}))
    with pytest.raises(HostError) as info:
        quick_host.up("w", state, rotated("w"))
    message = _last_line(info)
    assert "Before it: 2 of 2 version copies uploaded (2 uploaded copies serve no traffic), no deployment made" \
        in message
    assert script.deployment.versions == split, "traffic unchanged"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_429"] += 1
    FIGURES["faults_clear_errors"] += 1
