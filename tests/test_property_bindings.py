"""Property: over random live Workers and random sequences of desired binding sets, where each
step changes a random subset of values, every apply leaves the managed bindings exactly as
desired and everything else exactly as it was, at the cost docs/architecture.md states: no change, no call;
a value-only change, one call; anything touching store bindings, at most three calls; one new
Worker version per changed step. `value_changed_at` moves for exactly the values written (the
clock ticks once per step). A managed name taken by a binding the plane never managed is
refused with nothing written. (Provider code in-process against the fake API.)"""

from __future__ import annotations

import os
from typing import Any

from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import FakeCloudflare
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.api.client import CloudflareOperationError
from stacks.resources import bindings_provider
from stacks.resources.worker_bindings import WorkerSecretBindingsProvider

NAMES = [f"B{i}" for i in range(6)]
OTHER_TYPES = [
    {"type": "kv_namespace", "namespace_id": "kv"},
    {"type": "plain_text", "text": "v"},
    {"type": "secret_text", "text": "from-wrangler"},
    {"type": "durable_object_namespace", "class_name": "C", "script_name": "other"},
]
KINDS = ["secret_text", "secrets_store_secret"]

existing_st = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(range(len(OTHER_TYPES))), max_size=4)
step_st = st.tuples(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(KINDS), max_size=5),
                    st.sets(st.sampled_from(NAMES)))  # (desired bindings, names whose value changes)
steps_st = st.lists(step_st, min_size=1, max_size=4)

_fake: FakeCloudflare | None = None


def fake() -> FakeCloudflare:
    global _fake
    if _fake is None:
        _fake = FakeCloudflare().start()
        _fake.seed_store(ACCOUNT, STORE_ID, [f"{n}_S" for n in NAMES])
        os.environ["CLOUDFLARE_API_TOKEN"] = "prop"
        os.environ["CLOUDFLARE_BASE_URL"] = _fake.base_url
    return _fake


def props(desired: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
    specs = []
    for name, kind in sorted(desired.items()):
        spec: dict[str, Any] = {"name": name, "type": kind, "secret": name}
        if kind == "secrets_store_secret":
            spec.update(store_id=STORE_ID, secret_name=f"{name}_S")
        specs.append(spec)
    return {"account_id": ACCOUNT, "script_name": "prop", "worker": "prop", "stack": "prop", "bindings": specs,
            "values": {n: values[n] for n, k in desired.items() if k == "secret_text"}}


def check_live(live: dict[str, dict[str, Any]], desired: dict[str, str], values: dict[str, str],
               unmanaged: dict[str, dict[str, Any]]) -> None:
    for name, kind in desired.items():
        assert live[name]["type"] == kind
        if kind == "secret_text":
            assert live[name]["text"] == values[name]
        else:
            assert (live[name]["store_id"], live[name]["secret_name"]) == (STORE_ID, f"{name}_S")
    for name, binding in unmanaged.items():
        assert live[name] == binding
    assert set(live) == set(desired) | set(unmanaged)


def tick(step: int) -> str:
    return f"2026-01-01T00:00:{step:02d}+00:00"


@settings(max_examples=100, deadline=None)
@given(existing_st, steps_st)
def test_each_step_converges_at_its_stated_cost(existing: dict[str, int], steps: list[tuple[dict[str, str], set[str]]]) -> None:
    clock = bindings_provider._now
    try:
        run_steps(existing, steps)
    finally:
        bindings_provider._now = clock


def run_steps(existing: dict[str, int], steps: list[tuple[dict[str, str], set[str]]]) -> None:
    api = fake()
    seeded = [{"name": n, **OTHER_TYPES[t]} for n, t in sorted(existing.items())]
    script = api.add_script(ACCOUNT, "prop", seeded)
    provider = WorkerSecretBindingsProvider()
    unmanaged = {b["name"]: b for b in seeded}
    managed_before: dict[str, str] = {}
    values: dict[str, str] = {}
    state: dict[str, Any] | None = None
    for number, (desired, changed) in enumerate(steps):
        bindings_provider._now = lambda number=number: tick(number)  # type: ignore[misc]
        for name, kind in desired.items():
            if kind == "secret_text" and (name in changed or name not in values):
                values[name] = f"v{number}-{name}"
        old_values = dict((state or {}).get("values") or {})
        taken = [n for n in desired if n in unmanaged and unmanaged[n]["type"] not in ("secret_text", "secrets_store_secret")]
        calls, versions = api.api_calls("prop"), script.versions
        before = {k: dict(v) for k, v in api.bindings(ACCOUNT, "prop").items()}
        try:
            if state is None:
                result = provider.create(props(desired, values))
                outs, id_ = result.outs or {}, result.id
            else:
                outs, id_ = provider.update(id_, state, props(desired, values)).outs or {}, id_
        except CloudflareOperationError as exc:
            assert taken, f"refused without a conflict: {exc}"
            assert "which the manifest did not create" in str(exc)
            assert api.bindings(ACCOUNT, "prop") == before and script.versions == versions
            return
        assert not taken, "a binding the plane never managed was overwritten"
        for name in desired:
            unmanaged.pop(name, None)  # secret bindings found on the Worker are adopted
        check_live(api.bindings(ACCOUNT, "prop"), desired, values, unmanaged)
        new_values = {n: values[n] for n, k in desired.items() if k == "secret_text"}
        unchanged = desired == managed_before and new_values == old_values
        value_only = all(k == "secret_text" for k in desired.values()) and all(
            k == "secret_text" for k in managed_before.values()) and not any(
            n in before and before[n]["type"] == "secrets_store_secret" for n in desired)
        used = api.api_calls("prop") - calls
        if unchanged:
            assert used == 0 and script.versions == versions
        elif value_only:
            assert used == 1 and script.versions == versions + 1, (used, script.versions - versions)
        else:
            assert used <= 3 and script.versions - versions <= 1, (used, script.versions - versions)
        stamps_before = dict((state or {}).get("value_changed_at") or {})
        written = {n for n in new_values if managed_before.get(n) != "secret_text" or new_values[n] != old_values.get(n)}
        assert outs["value_changed_at"] == {n: tick(number) if n in written else stamps_before[n] for n in new_values}
        state, managed_before = outs, dict(desired)
    assert state is not None
    provider.delete(id_, state)
    assert api.bindings(ACCOUNT, "prop") == unmanaged


def teardown_module() -> None:
    if _fake is not None:
        _fake.stop()


