"""Rotation with overlap end to end: the real program under mocks, its WorkerSecretBindings through
the real dynamic-provider host, store secrets through the SDK, against the fake API (bench/engine.py
applies as `pulumi up` does). What each rotation, retirement and `--no-overlap` writes, counted, and
what every holder then reads as the binding and as `<BINDING>_PREVIOUS`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY_PREFIX, canary, leak_scan

from bench.engine import Cost, Engine
from bench.estate import ACCOUNT, STACK, STORE_ID, write_project
from bench.scenarios import seeded_fake
from stacks.resources.offline import ProgramRun, redact, reveal, run_program

HOLDERS = ["w0", "w1", "w2"]
RETIRES = "2026-12-21"


def estate(backend: str) -> dict[str, Any]:
    secret = {"description": "d", "owner": "platform", "provider": "internal", "rotation_days": 365}
    return {"version": 1, "backend": backend,
            "secrets": {"HOOK": {**secret, "overlap_days": 14}, "API": dict(secret)},
            "workers": {w: {"script_name": f"{w}-{{stack}}", "stacks": [STACK],
                            "secrets": ["HOOK", "API"] if w == "w0" else ["HOOK"]} for w in HOLDERS}}


class Stack:
    """One stack's config as `rotate`/`retire` leave it, applied after each change."""

    def __init__(self, workdir: Path, backend: str):
        self.data = estate(backend)
        self.project = write_project(workdir / "project", self.data)
        self.values = {"HOOK": canary("hook-1"), "API": canary("api")}
        self.previous: dict[str, str] = {}
        self.fake = seeded_fake(self.data)
        self.engine = Engine(self.fake, ACCOUNT, STORE_ID)

    def run(self) -> ProgramRun:
        cfg: dict[str, Any] = {"secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID},
                               "secrets-plane:values": dict(self.values)}
        keys = ["secrets-plane:values"]
        if self.previous:
            cfg["secrets-plane:previous"] = {n: {"value": v, "retires": RETIRES} for n, v in self.previous.items()}
            keys.append("secrets-plane:previous")
        return run_program(self.project, STACK, cfg, keys)

    def apply(self, name: str) -> Cost:
        return self.engine.apply(name, self.run())

    def rotate(self, new: str, overlap: bool = True) -> Cost:
        if overlap:
            self.previous["HOOK"] = self.values["HOOK"]
        else:
            self.previous.pop("HOOK", None)
        self.values["HOOK"] = new
        return self.apply("rotate")

    def retire(self) -> Cost:
        self.previous.pop("HOOK")
        return self.apply("retire")

    def reads(self, worker: str) -> tuple[str, str]:
        """What a holder's HOOK and HOOK_PREVIOUS bindings give it: the text of a secret_text, the
        value of the store secret a store binding names."""
        live = self.fake.bindings(ACCOUNT, f"{worker}-{STACK}")
        secrets = {s.name: s.value for s in self.fake.store_secrets.get(STORE_ID, {}).values()}

        def read(name: str) -> str:
            b = live[name]
            return str(b["text"]) if b["type"] == "secret_text" else secrets[b["secret_name"]]
        return read("HOOK"), read("HOOK_PREVIOUS")

    def close(self) -> None:
        self.engine.close()
        self.fake.stop()


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    s = Stack(tmp_path, request.param)
    yield s
    s.close()


def every_holder_reads(stack: Stack, current: str, previous: str) -> None:
    for worker in HOLDERS:
        assert stack.reads(worker) == (current, previous), worker


@pytest.mark.parametrize("stack", ["store"], indirect=True)
def test_on_the_store_rotations_write_store_secrets_and_no_worker_version(stack: Stack) -> None:
    first = stack.apply("first apply")
    assert first.store_created == 3, "HOOK, HOOK_PREVIOUS and API"
    every_holder_reads(stack, canary("hook-1"), canary("hook-1"))
    for worker in HOLDERS:
        live = stack.fake.bindings(ACCOUNT, f"{worker}-{STACK}")
        assert live["HOOK_PREVIOUS"] == {"type": "secrets_store_secret", "name": "HOOK_PREVIOUS", "store_id": STORE_ID,
                                         "secret_name": live["HOOK"]["secret_name"] + "_PREVIOUS"}

    # Outside a window _PREVIOUS already holds the old value: only the current store secret changes.
    c = stack.rotate(canary("hook-2"))
    assert (c.store_updated, c.updated_names, c.worker_versions, c.settings_writes, c.bulk_writes) == \
        (1, ["secret-HOOK"], 0, 0, 0)
    every_holder_reads(stack, canary("hook-2"), canary("hook-1"))

    # Inside a window both change: two store writes, still no Worker version.
    c = stack.rotate(canary("hook-3"))
    assert (c.store_updated, sorted(c.updated_names), c.worker_versions) == (2, ["secret-HOOK", "secret-HOOK.previous"], 0)
    every_holder_reads(stack, canary("hook-3"), canary("hook-2"))

    c = stack.retire()
    assert (c.store_updated, c.updated_names, c.worker_versions) == (1, ["secret-HOOK.previous"], 0)
    every_holder_reads(stack, canary("hook-3"), canary("hook-3"))

    stack.rotate(canary("hook-4"))
    c = stack.rotate(canary("hook-5"), overlap=False)  # the compromise drill, during a window
    assert (c.store_updated, c.worker_versions) == (2, 0)
    every_holder_reads(stack, canary("hook-5"), canary("hook-5"))


@pytest.mark.parametrize("stack", ["legacy"], indirect=True)
def test_on_legacy_a_rotation_is_one_call_and_one_version_per_holder_carrying_both(stack: Stack) -> None:
    stack.apply("first apply")
    every_holder_reads(stack, canary("hook-1"), canary("hook-1"))
    bodies = len(stack.fake.bodies)

    c = stack.rotate(canary("hook-2"))
    n = len(HOLDERS)
    assert (c.updated, c.api_calls, c.bulk_writes, c.settings_writes, c.worker_versions) == (n, n, n, 0, n)
    every_holder_reads(stack, canary("hook-2"), canary("hook-1"))
    sent = b"".join(stack.fake.bodies[bodies:]).decode()
    assert canary("hook-2") in sent and canary("hook-1") not in sent, "an unchanged value is never re-sent"

    c = stack.rotate(canary("hook-3"))  # inside the window: both values in the one call
    assert (c.api_calls, c.bulk_writes, c.worker_versions) == (n, n, n)
    every_holder_reads(stack, canary("hook-3"), canary("hook-2"))

    c = stack.retire()
    assert (c.api_calls, c.bulk_writes, c.worker_versions) == (n, n, n)
    every_holder_reads(stack, canary("hook-3"), canary("hook-3"))

    stack.rotate(canary("hook-4"))
    c = stack.rotate(canary("hook-5"), overlap=False)
    assert (c.api_calls, c.bulk_writes, c.worker_versions) == (n, n, n)
    every_holder_reads(stack, canary("hook-5"), canary("hook-5"))
    # API was never rewritten: its holder's value is the first one.
    assert stack.fake.bindings(ACCOUNT, f"w0-{STACK}")["API"]["text"] == canary("api")


@pytest.mark.parametrize("stack", ["legacy"], indirect=True)
def test_the_flip_carries_both_values(stack: Stack) -> None:
    """A flip during a window: both the binding and its _PREVIOUS become store bindings, to store
    secrets holding the two values."""
    stack.apply("first apply")
    stack.rotate(canary("hook-2"))
    stack.data["backend"] = "store"
    write_project(stack.project, stack.data)
    c = stack.apply("flip")
    assert c.store_created == 3 and c.worker_versions == len(HOLDERS)
    every_holder_reads(stack, canary("hook-2"), canary("hook-1"))
    for worker in HOLDERS:
        live = stack.fake.bindings(ACCOUNT, f"{worker}-{STACK}")
        assert live["HOOK"]["type"] == live["HOOK_PREVIOUS"]["type"] == "secrets_store_secret"


@pytest.mark.parametrize("stack", ["store", "legacy"], indirect=True)
def test_both_values_reach_the_program_only_marked_secret(stack: Stack) -> None:
    """Every input holding the current or the previous value is a Pulumi secret: with the secret
    markers redacted, no canary is left in any resource's inputs."""
    stack.apply("first apply")
    stack.rotate(canary("hook-2"))
    run = stack.run()
    everything = repr([reveal(r.inputs) for r in run.resources])
    assert canary("hook-2") in everything and canary("hook-1") in everything, "both values are in the program"
    assert CANARY_PREFIX not in leak_scan(repr([redact(r.inputs) for r in run.resources]))
