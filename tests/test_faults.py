"""Faults injected on every operation through the real provider host: each is retried and
succeeds, or fails with a clear error naming the Worker, the operation and what to do. Never a
lost or changed unmanaged binding."""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES
from fake_cloudflare import Fault
from provider_host import HostError
from test_worker_bindings import UNMANAGED, legacy_props, unmanaged_unchanged

SETTINGS = r"/workers/scripts/w/settings$"
RECOVERABLE = [
    Fault("GET", SETTINGS, status=429, times=2, retry_after=0.1),
    Fault("PATCH", SETTINGS, status=429, times=2, retry_after=0.1),
    Fault("GET", SETTINGS, status=500, times=1),
    Fault("PATCH", SETTINGS, status=502, times=1),
    Fault("PATCH", SETTINGS, status=503, times=2),
    Fault("GET", SETTINGS, kind="drop", times=1),
    Fault("PATCH", SETTINGS, kind="drop", times=1),
    Fault("GET", SETTINGS, kind="delay", delay_s=3.0, times=1),
    Fault("PATCH", SETTINGS, status=409, times=1),
]
FATAL = [
    (Fault("GET", SETTINGS, status=403, times=99), "the API token was refused (403)"),
    (Fault("PATCH", SETTINGS, status=403, times=99), "the API token was refused (403)"),
    (Fault("GET", SETTINGS, status=429, times=99, retry_after=0.05), "still rate-limited (429)"),
    (Fault("PATCH", SETTINGS, status=503, times=99, retry_after=0.05), "Cloudflare answered 503"),
    (Fault("PATCH", SETTINGS, status=409, times=99, retry_after=0.05), "conflict (409)"),
    (Fault("PATCH", SETTINGS, kind="echo", status=400, times=99), "Cloudflare answered 400"),
]
OPERATIONS = ["create", "update", "read", "delete"]


def _applies(fault: Fault, operation: str) -> bool:
    return not (operation == "read" and fault.method == "PATCH")


def _prepare(fake, host, operation):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    if operation == "create":
        return None
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    return state


def _run(host, operation, state):  # type: ignore[no-untyped-def]
    olds = None if state is None else {k: v for k, v in state.items() if k != "_id"}
    if operation == "create":
        return host.up("w", None, legacy_props("w", ["A", "B"]))
    if operation == "update":
        news = legacy_props("w", ["A", "C"])
        return host.up("w", state, news)
    if operation == "read":
        return host.read("w", state["_id"], olds)
    return host.delete("w", state["_id"], olds)


# A refresh makes no write, so PATCH faults do not apply to it.
TRANSIENT_CASES = [pytest.param(op, f, id=f"{op}-{f.method}-{f.kind}-{f.status}")
                   for op in OPERATIONS for f in RECOVERABLE if _applies(f, op)]


@pytest.mark.parametrize("operation,fault", TRANSIENT_CASES)
def test_transient_faults_are_retried_and_converge(fake, host, operation, fault):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, operation)
    fake.faults.append(Fault(**vars(fault)))
    FIGURES["faults_injected"] += 1
    _run(host, operation, state)
    live = fake.bindings(ACCOUNT, "w")
    if not unmanaged_unchanged(fake, "w"):
        FIGURES["unmanaged_lost"] += 1
    assert unmanaged_unchanged(fake, "w")
    if operation == "create":
        assert {"A", "B"} <= set(live)
    elif operation == "update":
        assert "C" in live and "B" not in live
    elif operation == "delete":
        assert not {"A", "B"} & set(live)
    FIGURES["faults_recovered"] += 1


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
@pytest.mark.parametrize("fault,expected", FATAL, ids=lambda v: getattr(v, "status", None) or "")
def test_persistent_faults_fail_clearly_and_leave_the_worker_as_it_was(fake, host, operation, fault, expected):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, operation)
    before = {k: dict(v) for k, v in fake.bindings(ACCOUNT, "w").items()}
    fake.faults.append(Fault(**vars(fault)))
    FIGURES["faults_injected"] += 1
    with pytest.raises(HostError) as info:
        _run(host, operation, state)
    message = info.value.details.strip().splitlines()[-1]
    assert expected in message
    assert "Worker 'api' (script 'w')" in message
    assert "re-run" in message.lower() or "permission" in message.lower() or "token" in message
    assert CANARY_PREFIX not in info.value.details
    assert fake.bindings(ACCOUNT, "w") == before, "a failed operation changes nothing"
    FIGURES["faults_clear_errors"] += 1


def test_missing_worker_on_update_names_the_fix(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "update")
    del fake.scripts[(ACCOUNT, "w")]
    with pytest.raises(HostError) as info:
        _run(host, "update", state)
    assert "not found (404)" in info.value.details and "deploy the Worker first" in info.value.details


def test_deploy_between_read_and_write_keeps_its_bindings(fake, host):  # type: ignore[no-untyped-def]
    """A wrangler deploy lands after our read: it changes an unmanaged binding's content. Inherit
    resolves at write time, so the deploy's version of that binding survives our write."""
    state = _prepare(fake, host, "update")

    def deploy(account: str, script: str) -> None:
        for b in fake.scripts[(account, script)].bindings:
            if b["name"] == "CACHE":
                b["namespace_id"] = "kv2"

    fake.before_settings_write = deploy
    _run(host, "update", state)
    assert fake.bindings(ACCOUNT, "w")["CACHE"]["namespace_id"] == "kv2"
    assert fake.bindings(ACCOUNT, "w")["ROOMS"] == UNMANAGED[1]


def test_deploy_adding_a_binding_between_read_and_write_does_not_lose_it(fake, host):  # type: ignore[no-untyped-def]
    """The settings PATCH replaces the bindings list, so a binding a deploy adds after our read is
    missing from our write. The provider sees that the version before its own is not the one it
    read, and restores what that deploy added by inheriting it from that version."""
    state = _prepare(fake, host, "update")
    writes_before = fake.settings_writes("w")

    def deploy(account: str, script: str) -> None:
        current = [b for b in fake.scripts[(account, script)].bindings if b["name"] != "ENVIRONMENT"]
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"},
                                                {"type": "plain_text", "name": "ENVIRONMENT", "text": "v2"}])

    fake.before_settings_write = deploy
    _run(host, "update", state)
    live = fake.bindings(ACCOUNT, "w")
    assert live["UPLOADS"] == {"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}
    assert live["ENVIRONMENT"]["text"] == "v2"
    assert "C" in live and "B" not in live, "the update itself landed"
    assert all(live[b["name"]] == b for b in UNMANAGED if b["name"] != "ENVIRONMENT")
    assert fake.settings_writes("w") == writes_before + 2, "one write, plus one to restore what the deploy added"


def test_no_race_means_no_extra_write_or_version_read(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "update")
    writes_before = fake.settings_writes("w")
    _run(host, "update", state)
    assert fake.settings_writes("w") == writes_before + 1
    assert fake.count("GET", r"/versions/v\d+$") == 0


def test_stop_after_two_of_five_workers_converges_without_extra_versions(fake, host):  # type: ignore[no-untyped-def]
    scripts = [f"w{i}" for i in range(5)]
    for s in scripts:
        fake.add_script(ACCOUNT, s, UNMANAGED)
    states: dict[str, dict] = {}
    for s in scripts[:2]:  # the run is stopped after two Workers
        states[s], _ = host.up(s, None, legacy_props(s, ["A"]))
    versions_after_stop = fake.versions()
    for s in scripts:  # the next run: the engine's state has the first two
        states[s], action = host.up(s, states.get(s), legacy_props(s, ["A"]))
        assert action == ("same" if s in scripts[:2] else "create")
    versions = fake.versions()
    for s in scripts[:2]:
        assert versions[s] == versions_after_stop[s] == 2
    for s in scripts[2:]:
        assert versions[s] == 2
        assert unmanaged_unchanged(fake, s)
