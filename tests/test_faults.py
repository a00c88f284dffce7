"""Faults injected on every call each operation makes, through the real provider host: each is
retried and converges, or fails with an error naming the Worker, the operation and the fix. Never
a lost or changed unmanaged binding. Plus the faults a real account makes by itself: a deploy
landing mid-write, an inherited binding dropped by the API, a run stopped halfway."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES
from fake_cloudflare import Fault
from provider_host import HostError
from test_worker_bindings import (
    UNMANAGED,
    legacy_props,
    olds,
    seed_store,
    store_props,
    unmanaged_unchanged,
)

# (method, path, matching calls let through first): the newest versions are listed twice on the
# settings path, before the write and after it (the race check).
VERSIONS_LIST = ("GET", r"/workers/workers/w/versions$", 0)
SETTINGS_PATCH = ("PATCH", r"/workers/scripts/w/settings$", 0)
RACE_CHECK = ("GET", r"/workers/workers/w/versions$", 1)
DEPLOYMENTS_GET = ("GET", r"/workers/scripts/w/deployments$", 0)
BULK_PATCH = ("PATCH", r"/workers/scripts/w/secrets-bulk$", 0)

# Each operation, and the calls it makes (the fault catalogue is every fault on every one of them).
OPERATIONS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "create": (BULK_PATCH,),                                   # first legacy apply: secrets-bulk
    "create-store": (VERSIONS_LIST, SETTINGS_PATCH, RACE_CHECK),
    "rotate": (BULK_PATCH,),
    "flip": (VERSIONS_LIST, SETTINGS_PATCH, RACE_CHECK),
    "refresh": (DEPLOYMENTS_GET, VERSIONS_LIST),               # what serves: the deployment, the newest versions
    "delete": (BULK_PATCH,),
    "delete-store": (VERSIONS_LIST, SETTINGS_PATCH, RACE_CHECK),
}
TRANSIENT = [  # (kind, status, times, retry_after, delay)
    ("status", 429, 2, 0.1, 0.0),
    ("status", 500, 1, None, 0.0),
    ("status", 502, 1, None, 0.0),
    ("status", 503, 2, None, 0.0),
    ("status", 409, 1, None, 0.0),
    ("drop", 0, 1, None, 0.0),
    ("delay", 0, 1, None, 3.0),  # over the 2 s client timeout
]
PERSISTENT = [  # (kind, status, expected words)
    ("status", 403, "the API token was refused (403)"),
    ("status", 429, "still rate-limited (429)"),
    ("status", 503, "Cloudflare answered 503"),
    ("status", 409, "conflict (409)"),
    ("echo", 400, "Cloudflare answered 400"),
]
FIXES = ("re-run", "Re-run", "permission", "SECURITY.md")


def _prepare(fake, host, operation: str) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B", "C"])
    if operation in ("create", "create-store"):
        return None
    first = store_props if operation == "delete-store" else legacy_props
    state, _ = host.up("w", None, first("w", ["A", "B"]))
    return state


def _run(host, operation: str, state: dict[str, Any] | None) -> Any:  # type: ignore[no-untyped-def]
    if operation == "create":
        return host.up("w", None, legacy_props("w", ["A", "B"]))
    if operation == "create-store":
        return host.up("w", None, store_props("w", ["A", "B"]))
    assert state is not None
    if operation == "rotate":
        news = legacy_props("w", ["A", "C"])
        news["values"]["A"] = CANARY_PREFIX + "rotated"
        return host.up("w", state, news)
    if operation == "flip":
        return host.up("w", state, store_props("w", ["A", "C"]))
    if operation == "refresh":
        return host.read("w", state["_id"], olds(state))
    return host.delete("w", state["_id"], olds(state))


def _converged(fake, operation: str, result: Any) -> None:  # type: ignore[no-untyped-def]
    live = fake.bindings(ACCOUNT, "w")
    if operation in ("create", "create-store"):
        kind = "secret_text" if operation == "create" else "secrets_store_secret"
        assert live["A"]["type"] == live["B"]["type"] == kind
    elif operation == "rotate":
        assert live["A"]["text"] == CANARY_PREFIX + "rotated" and "C" in live and "B" not in live
    elif operation == "flip":
        assert live["A"]["type"] == live["C"]["type"] == "secrets_store_secret" and "B" not in live
    elif operation == "refresh":
        _, refreshed = result
        assert [(b["name"], b["type"]) for b in refreshed["bindings"]] == [("A", "secret_text"), ("B", "secret_text")]
        assert refreshed["unmanaged"] == sorted(b["name"] for b in UNMANAGED)
    else:
        assert not {"A", "B"} & set(live)


def _call_id(method: str, path: str, after: int) -> str:
    return f"{method}-{path.rsplit('/', 1)[1].rstrip('$')}" + (f"#{after + 1}" if after else "")


TRANSIENT_CASES = [
    pytest.param(op, method, path, after, kind, status, times, retry_after, delay,
                 id=f"{op}-{_call_id(method, path, after)}-{kind}-{status}")
    for op, calls in OPERATIONS.items() for method, path, after in calls
    for kind, status, times, retry_after, delay in TRANSIENT
]


@pytest.mark.parametrize("operation,method,path,after,kind,status,times,retry_after,delay", TRANSIENT_CASES)
def test_transient_faults_are_retried_and_converge(fake, host, operation, method, path, after, kind, status, times,  # type: ignore[no-untyped-def]
                                                   retry_after, delay):
    state = _prepare(fake, host, operation)
    fake.faults.append(Fault(method, path, kind=kind, status=status, times=times, retry_after=retry_after, delay_s=delay,
                             after=after))
    FIGURES["faults_injected"] += 1
    FIGURES[f"faults_kind_{kind}_{status}"] += 1
    result = _run(host, operation, state)
    assert sum(f.times for f in fake.faults) == 0, "the fault was hit"
    if not unmanaged_unchanged(fake, "w"):
        FIGURES["unmanaged_lost"] += 1
    assert unmanaged_unchanged(fake, "w")
    _converged(fake, operation, result)
    FIGURES["faults_recovered"] += 1


FATAL_CASES = [
    pytest.param(op, method, path, kind, status, words, id=f"{op}-{_call_id(method, path, 0)}-{kind}-{status}")
    for op in ("create", "create-store", "rotate", "flip", "refresh", "delete", "delete-store")
    for method, path, _ in OPERATIONS[op][:2]  # the first read and the write of each path
    for kind, status, words in PERSISTENT
    if not (kind == "echo" and method == "GET")
]


@pytest.mark.parametrize("operation,method,path,kind,status,words", FATAL_CASES)
def test_persistent_faults_fail_clearly_and_leave_the_worker_as_it_was(fake, host, operation, method, path, kind,  # type: ignore[no-untyped-def]
                                                                       status, words):
    state = _prepare(fake, host, operation)
    before = {k: dict(v) for k, v in fake.bindings(ACCOUNT, "w").items()}
    fake.faults.append(Fault(method, path, kind=kind, status=status, times=99, retry_after=0.05))
    FIGURES["faults_injected"] += 1
    FIGURES[f"faults_kind_{kind}_{status}"] += 1
    with pytest.raises(HostError) as info:
        _run(host, operation, state)
    message = info.value.details.strip().splitlines()[-1]
    action = "delete" if operation.startswith("delete") else "refresh" if operation == "refresh" else "apply"
    assert f"CloudflareOperationError: {action}: " in message, "names the operation"
    assert words in message
    assert "Worker 'api' (script 'w')" in message, "names the Worker"
    assert any(fix in message for fix in FIXES), "says what to do"
    assert CANARY_PREFIX not in info.value.details
    assert fake.bindings(ACCOUNT, "w") == before, "a failed operation changes nothing"
    FIGURES["faults_clear_errors"] += 1


@pytest.mark.parametrize("operation", ["create", "create-store", "rotate", "flip"])
def test_a_worker_that_does_not_exist_is_a_clear_error(fake, host, operation):  # type: ignore[no-untyped-def]
    """404: the script is not on the account (never deployed, or a typo in script_name)."""
    state = _prepare(fake, host, operation)
    del fake.scripts[(ACCOUNT, "w")]
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_status_404"] += 1
    with pytest.raises(HostError) as info:
        _run(host, operation, state)
    message = info.value.details.strip().splitlines()[-1]
    assert "CloudflareOperationError: apply: " in message and "Worker 'api' (script 'w')" in message
    assert "not found (404)" in message and "deploy the Worker first" in message
    assert (ACCOUNT, "w") not in fake.scripts, "nothing was created"
    FIGURES["faults_clear_errors"] += 1


def test_refresh_of_a_worker_that_does_not_exist_drops_the_resource(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "refresh")
    del fake.scripts[(ACCOUNT, "w")]
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_status_404"] += 1
    id_, _ = host.read("w", state["_id"], olds(state))
    assert id_ == "", "gone from Cloudflare, gone from the state"
    FIGURES["faults_recovered"] += 1


# ---- what real accounts do on their own -------------------------------------------------------------

def test_deploy_between_read_and_write_keeps_its_binding_changes(fake, host):  # type: ignore[no-untyped-def]
    """A wrangler deploy lands after our read and changes an unmanaged binding's content. Inherit
    resolves at write time, so the deploy's version of that binding survives our write."""
    state = _prepare(fake, host, "flip")
    fake.now = None  # real timestamps: the provider compares version times with its read

    def deploy(account: str, script: str) -> None:
        fake.deploy(account, script, [dict(b, namespace_id="kv2") if b["name"] == "CACHE" else b
                                      for b in fake.scripts[(account, script)].bindings])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    assert fake.bindings(ACCOUNT, "w")["CACHE"]["namespace_id"] == "kv2"
    assert fake.bindings(ACCOUNT, "w")["ROOMS"] == UNMANAGED[1]
    assert fake.bindings(ACCOUNT, "w")["A"]["type"] == "secrets_store_secret"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_deploy_adding_a_binding_between_read_and_write_does_not_lose_it(fake, host):  # type: ignore[no-untyped-def]
    """The settings write replaces the bindings list, so a binding a deploy adds after our read is
    missing from our write. The versions listing after the write shows a version made since the
    read; the provider restores what it added by inheriting it from that version, in one more write."""
    state = _prepare(fake, host, "flip")
    fake.now = None
    writes_before = fake.settings_writes("w")

    def deploy(account: str, script: str) -> None:
        current = [b for b in fake.scripts[(account, script)].bindings if b["name"] != "ENVIRONMENT"]
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"},
                                                {"type": "plain_text", "name": "ENVIRONMENT", "text": "v2"}])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert live["UPLOADS"] == {"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}
    assert live["ENVIRONMENT"]["text"] == "v2"
    assert live["A"]["type"] == "secrets_store_secret" and "B" not in live, "the update itself landed"
    assert all(live[b["name"]] == b for b in UNMANAGED if b["name"] != "ENVIRONMENT")
    assert fake.settings_writes("w") == writes_before + 2, "one write, plus one to restore what the deploy added"
    assert "restore UPLOADS" in fake.scripts[(ACCOUNT, "w")].latest.annotations["workers/message"]
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_deploy_in_the_same_second_as_the_read_is_still_seen(fake, host):  # type: ignore[no-untyped-def]
    """Version times have one-second precision: a deploy landing in the second of our read must
    count as "since the read" (the fake's clock is frozen, so every version shares that second)."""
    state = _prepare(fake, host, "flip")
    assert fake.now is not None

    def deploy(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    assert fake.bindings(ACCOUNT, "w")["UPLOADS"] == {"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}
    assert unmanaged_unchanged(fake, "w")
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_four_deploys_between_read_and_write_each_keep_what_they_added(fake, host):  # type: ignore[no-untyped-def]
    """Every version made since the read is looked at, the oldest too (the listing's one page
    holds them all: four deploys plus our write)."""
    state = _prepare(fake, host, "flip")

    def deploy(account: str, script: str) -> None:
        for i in range(4):
            current = fake.scripts[(account, script)].bindings
            fake.deploy(account, script, current + [{"type": "r2_bucket", "name": f"UP{i}", "bucket_name": f"b{i}"}])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert {f"UP{i}" for i in range(4)} <= set(live), "nothing a racing deploy added is lost"
    assert live["A"]["type"] == "secrets_store_secret" and unmanaged_unchanged(fake, "w")
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_race_repaired_under_a_later_deploy_keeps_that_deploy(fake, host):  # type: ignore[no-untyped-def]
    """A deploy lands between our read and our write (our write lacks what it added) and another
    right on top of our write: the repair is written on top of the newest, keeping what it added."""
    state = _prepare(fake, host, "flip")

    def racing(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}])

    def on_top(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "LATER", "bucket_name": "l"}])

    fake.before_settings_write, fake.after_settings_write = racing, on_top
    writes = fake.settings_writes("w")
    new_state, _ = _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert {"UPLOADS", "LATER"} <= set(live), "the racing deploy's binding restored, the later deploy's kept"
    assert live["A"]["type"] == "secrets_store_secret" and unmanaged_unchanged(fake, "w")
    assert fake.settings_writes("w") == writes + 2 and new_state["last_apply"]["versions"] == 2
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_binding_one_racing_deploy_added_and_the_next_removed_stays_removed(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "flip")
    before = [dict(b) for b in fake.scripts[(ACCOUNT, "w")].bindings]

    def deploy(account: str, script: str) -> None:
        fake.deploy(account, script, before + [{"type": "r2_bucket", "name": "OLD", "bucket_name": "o"}])
        fake.deploy(account, script, before + [{"type": "r2_bucket", "name": "NEW", "bucket_name": "n"}])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert "NEW" in live and "OLD" not in live, "the Worker ends as the last deploy left it, plus our change"
    assert live["A"]["type"] == "secrets_store_secret" and unmanaged_unchanged(fake, "w")
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_deploy_right_after_our_write_is_left_as_it_is(fake, host):  # type: ignore[no-untyped-def]
    """The versions listing shows a version newer than ours: it was built on ours (it inherited
    what we wrote), so nothing is restored and nothing is written again."""
    state = _prepare(fake, host, "flip")

    def deploy(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "LATER", "bucket_name": "l"}])

    fake.after_settings_write = deploy
    writes = fake.settings_writes("w")
    new_state, _ = _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert "LATER" in live and live["A"]["type"] == "secrets_store_secret" and unmanaged_unchanged(fake, "w")
    assert fake.settings_writes("w") == writes + 1 and new_state["last_apply"]["versions"] == 1


def test_a_racing_deploy_is_found_in_the_versions_listing_without_reading_a_version(fake, host):  # type: ignore[no-untyped-def]
    """A deploy adds a binding between the plane's read and its write, and the write (a whole list)
    drops it: the listing after the write holds every version's bindings, so the loss is found and
    restored from the racing version without reading any version on its own."""
    state = _prepare(fake, host, "flip")

    def deploy(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}])

    fake.before_settings_write = deploy
    _run(host, "flip", state)
    live = fake.bindings(ACCOUNT, "w")
    assert live["UPLOADS"] == {"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}, "restored"
    assert live["A"]["type"] == "secrets_store_secret" and unmanaged_unchanged(fake, "w")
    assert fake.count("GET", r"/versions/[^/]+$") == 0, "no version read on its own"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy between read and write"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_restore_that_cannot_be_written_fails_naming_what_to_restore(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "flip")
    fake.drop_inherit, fake.drop_inherit_writes = {"ROOMS"}, 1
    fake.faults.append(Fault(*SETTINGS_PATCH[:2], kind="status", status=403, times=99, after=1))  # the restore write
    with pytest.raises(HostError) as info:
        _run(host, "flip", state)
    message = info.value.details.strip().splitlines()[-1]
    assert "CloudflareOperationError: apply: restoring ROOMS on Worker 'api' (script 'w')" in message
    assert "the API token was refused (403)" in message and "permission" in message
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_an inherited binding dropped"] += 1
    FIGURES["faults_clear_errors"] += 1


def test_no_race_means_three_calls_and_no_version_read(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "flip")
    fake.now = None
    calls = fake.api_calls("w")
    _run(host, "flip", state)
    assert fake.api_calls("w") == calls + 3
    assert fake.count("GET", r"/versions/[^/]+$") == 0


@pytest.mark.parametrize("date_header", [True, False])
def test_an_inherited_binding_the_api_drops_is_restored(fake, host, date_header):  # type: ignore[no-untyped-def]
    """The API may drop an `inherit` binding it cannot resolve without saying so. The write's
    response shows it gone; the provider restores it from the version before its own. Without a
    `Date` header no race can be told apart, and that version still has it."""
    state = _prepare(fake, host, "flip")
    fake.date_header = date_header
    fake.drop_inherit, fake.drop_inherit_writes = {"ROOMS"}, 1
    writes = fake.settings_writes("w")
    new_state, _ = _run(host, "flip", state)
    assert fake.bindings(ACCOUNT, "w")["ROOMS"] == UNMANAGED[1]
    assert unmanaged_unchanged(fake, "w")
    assert fake.settings_writes("w") == writes + 2
    assert new_state["last_apply"]["versions"] == 2, "the write and the restore"
    assert fake.scripts[(ACCOUNT, "w")].latest.annotations["workers/message"] == "secrets-plane: restore ROOMS (staging)"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_an inherited binding dropped"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_versions_listing_that_fails_after_the_write_asks_for_a_re_run_that_converges(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "flip")
    fault = Fault(*RACE_CHECK[:2], kind="status", status=503, times=99, after=RACE_CHECK[2])
    fake.faults.append(fault)
    with pytest.raises(HostError) as info:
        _run(host, "flip", state)
    message = info.value.details.strip().splitlines()[-1]
    assert "CloudflareOperationError: apply: listing versions of Worker 'api' (script 'w')" in message
    assert any(fix in message for fix in FIXES) and CANARY_PREFIX not in info.value.details
    assert fake.bindings(ACCOUNT, "w")["A"]["type"] == "secrets_store_secret", "the write itself landed"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_status_503"] += 1
    FIGURES["faults_clear_errors"] += 1
    fake.faults.remove(fault)
    writes = fake.settings_writes("w")
    _run(host, "flip", state)  # the engine kept the old state: the live Worker already matches
    assert fake.settings_writes("w") == writes and unmanaged_unchanged(fake, "w")


def test_an_inherited_binding_that_cannot_be_restored_fails_loudly(fake, host):  # type: ignore[no-untyped-def]
    state = _prepare(fake, host, "flip")
    fake.drop_inherit, fake.drop_inherit_writes = {"ROOMS"}, 2
    with pytest.raises(HostError) as info:
        _run(host, "flip", state)
    message = info.value.details.strip().splitlines()[-1]
    assert "lost ROOMS (bindings the plane does not manage)" in message
    assert "re-deploy the Worker with wrangler" in message
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_an inherited binding dropped"] += 1
    FIGURES["faults_clear_errors"] += 1


@pytest.mark.parametrize("keeps_it", [False, True])
def test_a_dropped_binding_under_a_later_deploy_is_never_restored_over_it(fake, host, keeps_it):  # type: ignore[no-untyped-def]
    """The API drops an inherited binding from our write and a deploy lands right on top of it.
    Restoring would undo that deploy: if it lacks the binding, the apply fails naming it; if it
    holds it again, nothing is lost."""
    state = _prepare(fake, host, "flip")
    fake.drop_inherit, fake.drop_inherit_writes = {"ROOMS"}, 1

    def deploy(account: str, script: str) -> None:
        current = fake.scripts[(account, script)].bindings
        fake.deploy(account, script, current + [{"type": "r2_bucket", "name": "LATER", "bucket_name": "l"}]
                    + ([UNMANAGED[1]] if keeps_it else []))

    fake.after_settings_write = deploy
    writes = fake.settings_writes("w")
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_an inherited binding dropped"] += 1
    if keeps_it:
        new_state, _ = _run(host, "flip", state)
        assert new_state["last_apply"]["versions"] == 1
        FIGURES["faults_recovered"] += 1
    else:
        with pytest.raises(HostError) as info:
            _run(host, "flip", state)
        message = info.value.details.strip().splitlines()[-1]
        assert ("CloudflareOperationError: apply: the write to Worker 'api' (script 'w') dropped ROOMS (bindings the "
                "plane does not manage) and a deploy landed on top of the write without them") in message
        assert "re-deploy the Worker with wrangler" in message
        FIGURES["faults_clear_errors"] += 1
    live = fake.bindings(ACCOUNT, "w")
    assert "LATER" in live and live["A"]["type"] == "secrets_store_secret", "the later deploy stands"
    assert ("ROOMS" in live) is keeps_it and fake.settings_writes("w") == writes + 1, "nothing written over it"


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
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a run stopped halfway"] += 1
    FIGURES["faults_recovered"] += 1
