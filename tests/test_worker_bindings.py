"""WorkerSecretBindings through the real dynamic-provider host against the fake Cloudflare API:
each behaviour docs/architecture.md claims, with the API calls and Worker versions it costs."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import re
from typing import Any

import pulumi
import pytest
from conftest import ACCOUNT, CANARY_PREFIX, STORE_ID, canary, leak_scan
from fake_cloudflare import FakeCloudflare
from provider_host import HostError
from pulumi.runtime.proto import provider_pb2

from stacks.resources import bindings_provider, worker_bindings
from stacks.resources.worker_bindings import WorkerSecretBindingsProvider

PLAIN_TEXT_CANARY = CANARY_PREFIX + "plain-text-var"
UNMANAGED = [
    {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv1"},
    {"type": "durable_object_namespace", "name": "ROOMS", "class_name": "Room", "script_name": "other-worker"},
    {"type": "secret_text", "name": "SENTRY_DSN", "text": "set-by-wrangler"},
    # The API shows a plain_text binding's text; the provider must not keep it either.
    {"type": "plain_text", "name": "ENVIRONMENT", "text": PLAIN_TEXT_CANARY},
]


def legacy_props(script: str, secrets: list[str], worker: str = "api") -> dict[str, Any]:
    return {
        "account_id": ACCOUNT, "script_name": script, "worker": worker, "stack": "staging",
        "bindings": [{"name": s, "type": "secret_text", "secret": s} for s in secrets],
        "values": {s: canary(s) for s in secrets},
    }


def store_spec(name: str, secret_name: str | None = None, store_id: str = STORE_ID) -> dict[str, Any]:
    return {"name": name, "type": "secrets_store_secret", "secret": name, "store_id": store_id,
            "secret_name": secret_name or f"{name}_STAGING"}


def store_props(script: str, secrets: list[str], worker: str = "api") -> dict[str, Any]:
    return {"account_id": ACCOUNT, "script_name": script, "worker": worker, "stack": "staging",
            "bindings": [store_spec(s) for s in secrets], "values": {}}


def seed_store(fake: FakeCloudflare, secrets: list[str]) -> None:
    fake.seed_store(ACCOUNT, STORE_ID, [f"{s}_STAGING" for s in secrets])


def unmanaged_unchanged(fake, script: str) -> bool:  # type: ignore[no-untyped-def]
    live = fake.bindings(ACCOUNT, script)
    return all(live.get(b["name"]) == b for b in UNMANAGED)


def latest_annotations(fake: FakeCloudflare, script: str) -> dict[str, str]:
    return fake.scripts[(ACCOUNT, script)].latest.annotations


LONG_AGO = "2020-01-01T00:00:00+00:00"


def olds(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "_id"}


def sent_settings(fake: FakeCloudflare, script: str) -> dict[str, Any]:
    """The `settings` JSON part of the last settings write to `script`."""
    index = max(i for i, (m, p) in enumerate(fake.calls) if m == "PATCH" and p.endswith(f"/scripts/{script}/settings"))
    body = fake.bodies[index]
    part = body.split(b'name="settings"', 1)[1].split(b"\r\n\r\n", 1)[1]
    return json.loads(part.rsplit(b"\r\n--", 1)[0])


# ---- the value-only path: secrets-bulk, one call --------------------------------------------

def test_first_legacy_apply_is_one_bulk_call_naming_only_its_secrets(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "ascend-v5", UNMANAGED)
    state, action = host.up("ascend-v5", None, legacy_props("ascend-v5", ["A", "B"]))
    assert action == "create"
    assert fake.api_calls("ascend-v5") == 1 and fake.bulk_writes("ascend-v5") == 1
    assert fake.versions()["ascend-v5"] == 2
    live = fake.bindings(ACCOUNT, "ascend-v5")
    assert live["A"] == {"type": "secret_text", "name": "A", "text": canary("A")}
    assert unmanaged_unchanged(fake, "ascend-v5")
    body = json.loads(fake.bodies[-1])
    assert sorted(body["secrets"]) == ["A", "B"], "nothing else is named: no read, no inherit list"
    assert state["last_apply"] == {"path": "secrets-bulk", "api_calls": 1, "versions": 1, "rate_limit_wait_s": 0.0}


def test_more_than_100_values_go_in_batches_of_100(fake, host):  # type: ignore[no-untyped-def]
    """secrets-bulk takes at most 100 operations per call (BULK_OPERATIONS_MAX)."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    names = [f"S{i:03d}" for i in range(110)]
    state, _ = host.up("w", None, legacy_props("w", names))
    assert fake.bulk_writes("w") == 2 and fake.api_calls("w") == 2
    sent = [sorted(json.loads(fake.bodies[i])["secrets"]) for i, (m, p) in enumerate(fake.calls)
            if m == "PATCH" and p.endswith("/scripts/w/secrets-bulk")]
    assert [len(batch) for batch in sent] == [100, 10] and sorted(sent[0] + sent[1]) == names
    live = fake.bindings(ACCOUNT, "w")
    assert all(live[n]["text"] == canary(n) for n in names)
    assert state["last_apply"]["versions"] == 2 and unmanaged_unchanged(fake, "w")


@pytest.mark.parametrize("waited,reported,warned", [(0.0, 0.0, False), (0.94, 0.9, False), (1.0, 1.0, True),
                                                    (1.5, 1.5, True), (2.46, 2.5, True)])
def test_a_wait_for_the_rate_limit_is_reported_and_warned_from_one_second(monkeypatch, caplog, waited, reported,  # type: ignore[no-untyped-def]
                                                                         warned):
    """What this operation waited (the thread's total since it began), in last_apply and, from a
    second on, as a warning naming the Worker."""
    from stacks.api.ratelimit import PaceStats

    stats = PaceStats(waited_s=7.0)  # earlier operations on the same thread waited too

    class Pacer:
        def thread_stats(self) -> PaceStats:
            return stats

    monkeypatch.setattr(bindings_provider, "PACER", Pacer())
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    session = bindings_provider.Session(legacy_props("w", ["A"]), "apply")
    stats.waited_s += waited
    with caplog.at_level("WARNING", logger="secrets-plane"):
        report = session.report()
    assert report["rate_limit_wait_s"] == reported
    said = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert said == ([f"secrets-plane: waited {waited:.0f} s for Cloudflare's API rate limit while applying "
                     "Worker 'api' (script 'w')"] if warned else [])


def test_check_names_a_secret_text_binding_without_a_value() -> None:
    props = legacy_props("w", ["A", "B"])
    props["bindings"].append({"name": "X", "type": "secret_text", "secret": "X", "external": True})
    props["bindings"].append(store_spec("S"))
    del props["values"]["B"]
    result = WorkerSecretBindingsProvider().check({}, props)
    assert [(f.property, f.reason) for f in result.failures or []] == [("values", "no value for binding B")]
    assert WorkerSecretBindingsProvider().check({}, legacy_props("w", ["A"])).failures == []


def test_values_given_as_outputs_become_one_secret_input() -> None:
    """The component passes a plain dict; a caller may pass Outputs: either way one secret."""
    async def main() -> None:
        plain = {"A": "x", "B": "y"}
        for values in (plain, {"A": pulumi.Output.from_input("x"), "B": "y"}, pulumi.Output.from_input(plain)):
            out = worker_bindings._secret_input(values)
            assert await out.future() == plain
            assert await out.is_secret()
    asyncio.run(main())


def test_version_times_parse_as_the_api_writes_them_and_anything_else_is_unknown() -> None:
    """An unreadable `created_on` must not stop an apply: that version only cannot count as racing."""
    from stacks.api.workers import _parse_time
    assert _parse_time("2026-11-27T10:00:00.123456Z") == _dt.datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=_dt.UTC)
    assert _parse_time("27/11/2026") is None and _parse_time(None) is None and _parse_time("") is None


def test_rotation_sends_only_the_rotated_value(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    calls = fake.api_calls("w")
    # As if the first apply were long ago: a stamp taken now can only differ from this one.
    state["value_changed_at"] = dict.fromkeys(state["value_changed_at"], LONG_AGO)
    rotated = legacy_props("w", ["A", "B"])
    rotated["values"]["A"] = canary("A-rotated")
    state2, action = host.up("w", state, rotated)
    assert action == "update" and fake.api_calls("w") == calls + 1
    body = fake.bodies[-1].decode()
    assert canary("A-rotated") in body and canary("B") not in body, "an unchanged value is never re-sent"
    assert fake.bindings(ACCOUNT, "w")["A"]["text"] == canary("A-rotated")
    assert fake.bindings(ACCOUNT, "w")["B"]["text"] == canary("B")
    assert state2["value_changed_at"]["B"] == LONG_AGO, "an untouched value keeps the date it last changed"
    assert state2["value_changed_at"]["A"] > LONG_AGO
    # Whole seconds in UTC, as the audit prints them and sorts them.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", state2["value_changed_at"]["A"])
    assert latest_annotations(fake, "w") == {"workers/message": "secrets-plane: rotate A (staging)",
                                              "workers/tag": "secrets-plane"}


def test_a_value_changed_out_of_band_stays_until_the_manifest_value_changes(fake, host):  # type: ignore[no-untyped-def]
    """The documented choice: the plane never re-sends an unchanged value, on either path."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    script = fake.scripts[(ACCOUNT, "w")]
    script.bindings = [dict(b, text="set-by-hand") if b["name"] == "B" else b for b in script.bindings]
    rotated = legacy_props("w", ["A", "B"])
    rotated["values"]["A"] = canary("A-rotated")
    state, _ = host.up("w", state, rotated)  # bulk path
    assert fake.bindings(ACCOUNT, "w")["B"]["text"] == "set-by-hand"
    seed_store(fake, ["A"])
    flipped = legacy_props("w", ["B"])
    flipped["bindings"].append(store_spec("A"))
    host.up("w", state, flipped)  # settings path: B is inherited
    assert fake.bindings(ACCOUNT, "w")["B"]["text"] == "set-by-hand"
    assert fake.bindings(ACCOUNT, "w")["A"]["type"] == "secrets_store_secret"


def test_add_and_remove_are_one_bulk_call_each(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    state, _ = host.up("w", state, legacy_props("w", ["A", "B", "C"]))
    assert json.loads(fake.bodies[-1])["secrets"] == {"C": {"name": "C", "type": "secret_text", "text": canary("C")}}
    state, _ = host.up("w", state, legacy_props("w", ["A", "C"]))
    assert json.loads(fake.bodies[-1])["secrets"] == {"B": None}
    assert fake.api_calls("w") == 3 and fake.settings_writes("w") == 0
    assert set(fake.bindings(ACCOUNT, "w")) == {"A", "C"} | {b["name"] for b in UNMANAGED}
    assert latest_annotations(fake, "w")["workers/message"] == "secrets-plane: remove B (staging)"


# ---- the settings path: store bindings, the flip, at most three calls ---------------------------

def test_flip_and_back_are_one_version_each_in_three_calls(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "C"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "C"]))
    id_before, calls, versions = state["_id"], fake.api_calls("w"), fake.versions()["w"]

    assert state["unmanaged"] == [], "the bulk path reads nothing, so it has not seen the Worker's other bindings"
    state, action = host.up("w", state, store_props("w", ["A", "C"]))
    assert action == "update" and state["_id"] == id_before
    assert fake.api_calls("w") - calls == 3, "list versions, write settings, list versions"
    assert fake.versions()["w"] == versions + 1
    assert state["last_apply"] == {"path": "settings", "api_calls": 3, "versions": 1, "rate_limit_wait_s": 0.0}
    assert state["unmanaged"] == sorted(b["name"] for b in UNMANAGED), "the settings path read them"
    assert fake.bindings(ACCOUNT, "w")["A"] == {"type": "secrets_store_secret", "name": "A", "store_id": STORE_ID,
                                                "secret_name": "A_STAGING"}
    assert unmanaged_unchanged(fake, "w")
    assert latest_annotations(fake, "w")["workers/message"] == "secrets-plane: backend flip to store (staging)"
    sent = sent_settings(fake, "w")
    inherited = sorted(b["name"] for b in sent["bindings"] if b["type"] == "inherit")
    assert inherited == sorted(b["name"] for b in UNMANAGED), "every unmanaged binding goes back as inherit"
    assert "set-by-wrangler" not in json.dumps(sent) and "other-worker" not in json.dumps(sent)
    assert sent["annotations"] == {"workers/message": "secrets-plane: backend flip to store (staging)",
                                   "workers/tag": "secrets-plane"}

    calls = fake.api_calls("w")
    state, action = host.up("w", state, legacy_props("w", ["A", "C"]))
    assert action == "update" and fake.api_calls("w") - calls == 3
    assert fake.bindings(ACCOUNT, "w")["A"] == {"type": "secret_text", "name": "A", "text": canary("A")}
    assert latest_annotations(fake, "w")["workers/message"] == "secrets-plane: backend flip to Worker secrets (staging)"
    assert unmanaged_unchanged(fake, "w")


def test_diff_never_replaces_on_the_flip(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    diff = host.diff("w", state["_id"], olds(state), store_props("w", ["A"]))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == []
    same = host.diff("w", state["_id"], olds(state), legacy_props("w", ["A"]))
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    # Only another account replaces (the Worker there is another Worker).
    moved = host.diff("w", state["_id"], olds(state), {**legacy_props("w", ["A"]), "account_id": "0" * 32})
    assert list(moved.replaces) == ["account_id"]
    assert not moved.deleteBeforeReplace, "the other account's Worker gets its bindings before this one loses them"


def test_a_new_script_name_moves_the_bindings_and_leaves_the_old_worker_as_found(fake, host):  # type: ignore[no-untyped-def]
    """`script_name` edited in the manifest: same resource (URN), another Worker."""
    fake.add_script(ACCOUNT, "w-old", UNMANAGED)
    fake.add_script(ACCOUNT, "w-new", [])
    state, _ = host.up("w", None, legacy_props("w-old", ["A", "B"]))
    diff = host.diff("w", state["_id"], olds(state), legacy_props("w-new", ["A", "B"]))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    state, action = host.up("w", state, legacy_props("w-new", ["A", "B"]))
    assert action == "update"
    assert set(fake.bindings(ACCOUNT, "w-old")) == {b["name"] for b in UNMANAGED} and unmanaged_unchanged(fake, "w-old")
    assert {n: b["text"] for n, b in fake.bindings(ACCOUNT, "w-new").items()} == {"A": canary("A"), "B": canary("B")}
    assert [b["name"] for b in state["bindings"]] == ["A", "B"]


def test_diff_with_unknown_inputs_is_a_change(fake, host):  # type: ignore[no-untyped-def]
    """In a preview, an input computed by another resource (a store id, a value) may be unknown,
    the whole `bindings` list included: Diff reports a change instead of comparing placeholders."""
    from stacks.resources.worker_bindings import UNKNOWN

    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    for news in ({**legacy_props("w", ["A"]), "bindings": UNKNOWN},
                 {**legacy_props("w", ["A"]), "values": {"A": UNKNOWN}},
                 {**store_props("w", ["A"]), "bindings": [dict(store_spec("A"), store_id=UNKNOWN)]}):
        diff = host.diff("w", state["_id"], olds(state), news)
        assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
        assert host.check("w", olds(state), news)[1] == [], "nothing to refuse before the values are known"


def test_noop_apply_makes_no_call(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    calls = fake.api_calls("w")
    state, action = host.up("w", state, store_props("w", ["A", "B"]))
    assert action == "same" and fake.api_calls("w") == calls


def test_update_with_nothing_changed_makes_no_call(fake, host):  # type: ignore[no-untyped-def]
    """Diff says "changed" when a preview input was unknown; if the applied inputs then equal the
    state, the update must not write (nor read) anything."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    state["value_changed_at"] = dict.fromkeys(state["value_changed_at"], LONG_AGO)
    calls, versions = fake.api_calls("w"), fake.versions()["w"]
    outs = host.update("w", state["_id"], olds(state), legacy_props("w", ["A", "B"]))
    assert fake.api_calls("w") == calls and fake.versions()["w"] == versions
    assert outs["value_changed_at"] == {"A": LONG_AGO, "B": LONG_AGO}


def test_write_skipped_when_the_live_worker_already_matches(fake, host):  # type: ignore[no-untyped-def]
    """State lost after a write: the engine still has the legacy state, the Worker is already on
    the store. The settings path lists the newest versions, sees the desired bindings on the latest,
    reads the deployment to know that the latest is what serves, and writes nothing."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    stale, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    host.up("w", stale, store_props("w", ["A", "B"]))
    writes, versions = fake.settings_writes("w"), fake.versions()["w"]
    outs = host.update("w", stale["_id"], olds(stale), store_props("w", ["A", "B"]))
    assert fake.settings_writes("w") == writes and fake.versions()["w"] == versions
    assert outs["last_apply"] == {"path": "settings", "api_calls": 2, "versions": 0, "rate_limit_wait_s": 0.0}


@pytest.mark.parametrize("field,value", [("store_id", "0" * 31 + "e"), ("secret_name", "A_ELSEWHERE")])
def test_store_binding_drift_is_seen_by_refresh_and_repaired(fake, host, field, value):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    drifted = [dict(b, **{field: value}) if b["name"] == "A" else b for b in fake.scripts[(ACCOUNT, "w")].bindings]
    fake.deploy(ACCOUNT, "w", drifted)
    id_, refreshed = host.read("w", state["_id"], olds(state))
    refreshed.pop("__provider")
    a = next(b for b in refreshed["bindings"] if b["name"] == "A")
    assert a[field] == value, "refresh reports where the binding points now"
    writes = fake.settings_writes("w")
    state, action = host.up("w", {**refreshed, "_id": id_}, store_props("w", ["A", "B"]))
    assert action == "update" and fake.settings_writes("w") == writes + 1
    assert fake.bindings(ACCOUNT, "w")["A"] == {"type": "secrets_store_secret", "name": "A", "store_id": STORE_ID,
                                                "secret_name": "A_STAGING"}
    assert latest_annotations(fake, "w")["workers/message"] == "secrets-plane: repoint A (staging)"
    assert unmanaged_unchanged(fake, "w")


def test_refresh_then_up_repairs_bindings_a_wrangler_deploy_dropped(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    # `wrangler deploy` without secrets_store_secrets in its config drops the store bindings
    # (here the first one the state lists: the refresh must go on to the others).
    fake.deploy(ACCOUNT, "w", [b for b in fake.scripts[(ACCOUNT, "w")].bindings if b["name"] != "A"])
    calls = fake.api_calls("w")
    id_, refreshed = host.read("w", state["_id"], olds(state))
    assert fake.api_calls("w") == calls + 2, "a refresh reads what serves: the deployment and the newest versions"
    assert [b["name"] for b in refreshed["bindings"]] == ["B"]
    refreshed.pop("__provider")
    state2, action = host.up("w", {**refreshed, "_id": id_}, store_props("w", ["A", "B"]))
    assert action == "update"
    assert fake.bindings(ACCOUNT, "w")["A"]["secret_name"] == "A_STAGING"
    assert unmanaged_unchanged(fake, "w")


def test_read_of_wrong_type_shows_the_live_type(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    seed_store(fake, ["A"])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    fake.deploy(ACCOUNT, "w", [{"type": "secret_text", "name": "A", "text": "x"}])
    _, refreshed = host.read("w", state["_id"], olds(state))
    assert refreshed["bindings"] == [{"name": "A", "type": "secret_text", "secret": "A"}]


def test_read_of_a_deleted_worker_drops_the_resource(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    seed_store(fake, ["A"])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    del fake.scripts[(ACCOUNT, "w")]
    id_, _ = host.read("w", state["_id"], olds(state))
    assert id_ == ""


# ---- delete ---------------------------------------------------------------------------------------

def test_delete_removes_only_managed_bindings(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    host.delete("w", state["_id"], olds(state))
    assert set(fake.bindings(ACCOUNT, "w")) == {b["name"] for b in UNMANAGED}
    assert unmanaged_unchanged(fake, "w")
    assert fake.bulk_writes("w") == 2 and fake.api_calls("w") == 2
    assert latest_annotations(fake, "w")["workers/message"] == "secrets-plane: remove A, B (staging)"


def test_delete_of_store_bindings_uses_the_settings_write(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A"])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    host.delete("w", state["_id"], olds(state))
    assert set(fake.bindings(ACCOUNT, "w")) == {b["name"] for b in UNMANAGED}
    assert unmanaged_unchanged(fake, "w")


def test_delete_of_store_bindings_already_gone_writes_nothing(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A"])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    # A `wrangler deploy` without secrets_store_secrets in its config took them off already.
    fake.deploy(ACCOUNT, "w", [b for b in fake.scripts[(ACCOUNT, "w")].bindings if b["name"] != "A"])
    calls, versions = fake.api_calls("w"), fake.versions()["w"]
    host.delete("w", state["_id"], olds(state))
    assert fake.api_calls("w") == calls + 2, "the newest versions and the deployment read, and no write"
    assert fake.versions()["w"] == versions and unmanaged_unchanged(fake, "w")


def test_delete_of_only_external_bindings_makes_no_call(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [{"type": "secret_text", "name": "EXT", "text": "set-by-wrangler-ext"}])
    props = {**legacy_props("w", []), "bindings": [{"name": "EXT", "type": "secret_text", "secret": "EXT",
                                                    "external": True}]}
    state, _ = host.up("w", None, props)
    calls = fake.api_calls("w")
    host.delete("w", state["_id"], olds(state))
    assert fake.api_calls("w") == calls and "EXT" in fake.bindings(ACCOUNT, "w"), "the plane never owned it"


def test_delete_of_a_gone_worker_is_a_noop(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    del fake.scripts[(ACCOUNT, "w")]
    calls = fake.api_calls("w")
    host.delete("w", state["_id"], olds(state))  # no error
    assert fake.api_calls("w") == calls + 1, "one call, answered 404, and nothing else"
    assert (ACCOUNT, "w") not in fake.scripts


# ---- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("props", [legacy_props, store_props], ids=["bulk", "settings"])
def test_missing_worker_is_a_clear_error_without_values(fake, host, props):  # type: ignore[no-untyped-def]
    seed_store(fake, ["A"])
    with pytest.raises(HostError) as info:
        host.up("ghost", None, props("ghost", ["A"], worker="scheduler"))
    message = info.value.details.strip().splitlines()[-1]
    assert message.startswith("stacks.core.errors.CloudflareOperationError: apply: ") and "Worker 'scheduler' (script 'ghost')" in message
    assert "not found (404)" in message and "workers.scheduler.script_name" in message
    assert CANARY_PREFIX not in info.value.details
    assert fake.settings_writes() == 0 and (ACCOUNT, "ghost") not in fake.scripts


def test_a_name_taken_by_an_unmanaged_binding_is_refused_before_writing(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["CACHE"])
    versions = fake.versions()["w"]
    with pytest.raises(HostError) as info:
        host.up("w", None, store_props("w", ["CACHE"]))
    message = info.value.details.strip().splitlines()[-1]
    assert "already has binding CACHE (a kv_namespace binding), which the manifest did not create" in message
    assert "Rename the binding under `bindings:`" in message
    assert fake.versions()["w"] == versions and unmanaged_unchanged(fake, "w")


def test_bulk_on_a_name_used_by_a_store_binding_falls_back_to_the_settings_write(fake, host):  # type: ignore[no-untyped-def]
    """A store binding set by hand under a name the manifest wants as secret_text: secrets-bulk
    refuses it (10053); the settings write adopts the name."""
    seed_store(fake, ["A"])
    fake.add_script(ACCOUNT, "w", UNMANAGED + [store_spec("A")])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    assert fake.bindings(ACCOUNT, "w")["A"] == {"type": "secret_text", "name": "A", "text": canary("A")}
    assert state["last_apply"]["path"] == "settings" and unmanaged_unchanged(fake, "w")


# ---- phased adoption: store, secret_text, fallback and unmanaged in one write -------------------

def mixed_props(script: str) -> dict[str, Any]:
    props = legacy_props(script, ["LEGACY_ONE"])
    props["bindings"] += [store_spec("AI_KEY"),
                          {"name": "AI_KEY_FALLBACK", "type": "secret_text", "secret": "AI_KEY", "role": "fallback"}]
    props["values"]["AI_KEY_FALLBACK"] = canary("AI_KEY")
    return props


@pytest.mark.parametrize("others,refused", [(127, False), (128, True)])
def test_the_settings_write_counts_the_workers_environment_variables(fake, host, others, refused):  # type: ignore[no-untyped-def]
    """Workers limit: 128 environment variables (secret and text). The settings write counts the
    Worker's own vars too, before writing; other bindings (KV, services) do not count."""
    vars_ = [{"type": "plain_text", "name": f"V{i}", "text": "x"} for i in range(others)]
    kv = [{"type": "kv_namespace", "name": f"KV{i}", "namespace_id": f"ns{i}"} for i in range(40)]
    fake.add_script(ACCOUNT, "w", vars_ + kv)
    seed_store(fake, ["S"])
    props = legacy_props("w", ["A"])  # with the vars: others + 1
    props["bindings"].append(store_spec("S"))
    history = len(fake.scripts[(ACCOUNT, "w")].history)
    if not refused:
        host.up("w", None, props)
        assert fake.bindings(ACCOUNT, "w")["S"]["type"] == "secrets_store_secret"
        return
    with pytest.raises(HostError) as info:
        host.up("w", None, props)
    message = info.value.details.strip().splitlines()[-1]
    assert "would hold 129 environment variables (secret and text), over the Workers limit of 128" in message
    assert "nothing was written" in message and len(fake.scripts[(ACCOUNT, "w")].history) == history


def test_a_mixed_worker_is_written_in_one_settings_write(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["AI_KEY"])
    state, _ = host.up("w", None, mixed_props("w"))
    assert fake.settings_writes("w") == 1 and fake.bulk_writes("w") == 0 and fake.versions()["w"] == 2
    live = fake.bindings(ACCOUNT, "w")
    assert live["AI_KEY"]["type"] == "secrets_store_secret"
    assert live["AI_KEY_FALLBACK"] == {"type": "secret_text", "name": "AI_KEY_FALLBACK", "text": canary("AI_KEY")}
    assert live["LEGACY_ONE"]["text"] == canary("LEGACY_ONE")
    assert unmanaged_unchanged(fake, "w")
    # Rotating AI_KEY reaches this Worker only through its fallback copy: one bulk call.
    rotated = mixed_props("w")
    rotated["values"]["AI_KEY_FALLBACK"] = canary("AI_KEY-rotated")
    calls = fake.api_calls("w")
    state, _ = host.up("w", state, rotated)
    assert fake.api_calls("w") == calls + 1 and fake.bindings(ACCOUNT, "w")["AI_KEY_FALLBACK"]["text"] == canary("AI_KEY-rotated")
    # Dropping the fallback removes the copy in one write.
    without = mixed_props("w")
    without["bindings"] = [b for b in without["bindings"] if b["name"] != "AI_KEY_FALLBACK"]
    del without["values"]["AI_KEY_FALLBACK"]
    host.up("w", state, without)
    assert "AI_KEY_FALLBACK" not in fake.bindings(ACCOUNT, "w") and fake.api_calls("w") == calls + 2


def test_an_external_binding_is_kept_and_never_written(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED + [{"type": "secret_text", "name": "EXT", "text": "set-by-wrangler-ext"}])
    seed_store(fake, ["A"])
    props = store_props("w", ["A"])
    props["bindings"].append({"name": "EXT", "type": "secret_text", "secret": "EXT", "external": True})
    state, _ = host.up("w", None, props)
    assert fake.bindings(ACCOUNT, "w")["EXT"]["text"] == "set-by-wrangler-ext"
    assert {"type": "inherit", "name": "EXT"} in sent_settings(fake, "w")["bindings"]
    assert "set-by-wrangler-ext" not in fake.traffic().decode()
    assert [b["name"] for b in state["bindings"]] == ["A", "EXT"]
    assert state["unmanaged"] == sorted(b["name"] for b in UNMANAGED), "an external binding is managed, not foreign"
    # Removed from the Worker by hand: refresh reports it missing; the plane cannot put it back.
    fake.deploy(ACCOUNT, "w", [b for b in fake.scripts[(ACCOUNT, "w")].bindings if b["name"] != "EXT"])
    _, refreshed = host.read("w", state["_id"], olds(state))
    assert [b["name"] for b in refreshed["bindings"]] == ["A"]
    # Dropping it from the manifest never deletes it (the plane does not own it).
    fake.deploy(ACCOUNT, "w", fake.scripts[(ACCOUNT, "w")].bindings + [{"type": "secret_text", "name": "EXT", "text": "x"}])
    host.up("w", state, store_props("w", ["A"]))
    assert "EXT" in fake.bindings(ACCOUNT, "w")


# ---- what is kept, and what is never kept -----------------------------------------------------------

def test_outputs_hold_values_only_under_the_secret_name_and_never_a_plain_text(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["C"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    flipped = legacy_props("w", ["A", "B"])
    flipped["bindings"].append(store_spec("C"))
    state, _ = host.up("w", state, flipped)  # the settings path reads the Worker, plain_text included
    _, refreshed = host.read("w", state["_id"], olds(state))
    assert refreshed["unmanaged"] == sorted(b["name"] for b in UNMANAGED), "refresh lists only the foreign ones"
    assert refreshed["value_changed_at"] == state["value_changed_at"], "a read cannot see values: their dates stay"
    for outputs in (state, refreshed):
        public = {k: v for k, v in outputs.items() if k not in ("values", "__provider")}
        assert CANARY_PREFIX not in leak_scan(json.dumps(public))
    shown = json.dumps([payload for _, _, _, payload in fake.responses])
    assert PLAIN_TEXT_CANARY in shown, "the API did show the plain_text text to the provider"
    assert CANARY_PREFIX.encode() not in host.stderr_tail


def test_every_version_the_plane_makes_is_annotated_without_a_value(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    state, _ = host.up("w", state, store_props("w", ["A", "B"]))
    state, _ = host.up("w", state, legacy_props("w", ["A", "B"]))
    ours = fake.scripts[(ACCOUNT, "w")].history[1:]
    assert len(ours) == 3
    for version in ours:
        assert version.annotations["workers/tag"] == "secrets-plane"
        assert version.annotations["workers/message"].startswith("secrets-plane: ")
        assert version.annotations["workers/message"].endswith("(staging)")
        assert CANARY_PREFIX not in leak_scan(json.dumps(version.annotations))
