"""What serves traffic is the truth, through the real provider host: every write decision is made on
the active deployment's versions, never on a latest version nobody deployed, and a run stopped at
any request converges on the re-run with nothing deployed that was never deployed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES, host_env
from fake_cloudflare import FakeCloudflare, Script
from provider_host import HostError, ProviderHost
from test_worker_bindings import UNMANAGED, legacy_props, olds, seed_store, store_props

NEW_CODE = b"export default { fetch() { return new Response('work in progress') } }"


def _host(fake: FakeCloudflare, engine: bool = False) -> ProviderHost:
    return ProviderHost(host_env(fake, "t"), engine=engine)


@pytest.fixture
def engine_host(fake: FakeCloudflare) -> Iterator[ProviderHost]:
    """A host started as the engine starts it: what the provider says shows beside the resource."""
    h = _host(fake, engine=True)
    yield h
    h.close()


def legacy_worker(fake: FakeCloudflare, host: ProviderHost) -> tuple[dict[str, Any], Script]:
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    return state, fake.scripts[(ACCOUNT, "w")]


def store_bindings(script: Script) -> list[dict[str, Any]]:
    """The latest bindings with A and B moved to the store, as the flip wants them."""
    specs = {spec["name"]: spec for spec in store_props("w", ["A", "B"])["bindings"]}
    return [{"type": "secrets_store_secret", "name": b["name"], "store_id": specs[b["name"]]["store_id"],
             "secret_name": specs[b["name"]]["secret_name"]} if b["name"] in specs else b
            for b in script.latest.bindings]


def served(script: Script) -> list[Any]:
    assert script.deployment is not None
    return [script.version(v["version_id"]) for v in script.deployment.versions]


def deployed_ever(script: Script) -> set[str]:
    return {v["version_id"] for d in script.deployments for v in d.versions}


@pytest.mark.parametrize("code", ["served", "new"], ids=["upload-with-the-served-code", "upload-with-new-code"])
def test_a_flip_with_an_undeployed_upload_that_already_has_its_bindings_reaches_traffic(fake, engine_host, code):  # type: ignore[no-untyped-def]
    """A teammate's `wrangler versions upload` carries exactly the store bindings the flip wants and
    is not deployed. Decided on the latest version, the flip would write nothing and report done
    while traffic kept its secret_text bindings. Decided on what serves, the served version is
    copied with the store bindings and deployed; the upload stays as it is, never deployed."""
    host = engine_host
    state, script = legacy_worker(fake, host)
    deployed = script.latest
    upload = fake.upload_version(ACCOUNT, "w", bindings=store_bindings(script),
                                 code=deployed.modules["index.js"][0] if code == "served" else NEW_CODE)

    state, _ = host.up("w", state, store_props("w", ["A", "B"]))

    (version,) = served(script)
    bindings = {b["name"]: b for b in version.bindings}
    assert bindings["A"]["type"] == bindings["B"]["type"] == "secrets_store_secret", "traffic is on the store"
    assert version.id != upload.id and upload.id not in deployed_ever(script), "the upload was never deployed"
    assert version.modules == deployed.modules, "the served code, not the upload's"
    assert all(bindings[u["name"]] == u for u in UNMANAGED)
    assert state["last_apply"]["path"] == "versions"
    said = [m for _, _, m in host.engine.messages if upload.id in m]
    assert said and "serves no traffic" in said[0] and "leaves that upload as it is" in said[0]
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_an undeployed upload ahead of what serves"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_refresh_after_a_staged_upload_reports_the_worker_as_drifted(fake, engine_host):  # type: ignore[no-untyped-def]
    """The state says the Worker is on the store (an apply that wrote nothing, as one decided on the
    latest version would). A refresh reads what serves: secret_text, so A and B are drifted, and
    the next apply writes them."""
    host = engine_host
    state, script = legacy_worker(fake, host)
    upload = fake.upload_version(ACCOUNT, "w", bindings=store_bindings(script))
    recorded = {**olds(state), "bindings": store_props("w", ["A", "B"])["bindings"], "values": {}}
    _, refreshed = host.read("w", state["_id"], recorded)
    shapes = {b["name"]: b["type"] for b in refreshed["bindings"]}
    assert shapes == {"A": "secret_text", "B": "secret_text"}, "drifted: what serves is not the store"
    assert any(upload.id in m and "serves no traffic" in m for _, _, m in host.engine.messages)

    refreshed.pop("__provider", None)
    state, action = host.up("w", {**refreshed, "_id": state["_id"]}, store_props("w", ["A", "B"]))
    assert action == "update"
    (version,) = served(script)
    assert {b["name"]: b["type"] for b in version.bindings if b["name"] in "AB"} == {
        "A": "secrets_store_secret", "B": "secrets_store_secret"}


# ---- a run stopped at any request --------------------------------------------------------------

FLIP_REQUESTS = 11  # newest versions, settings write (10214), deployment, newest versions, 2 reads,
                    # 2 copies, deployment, deploy, history


@pytest.mark.parametrize("stop_at", range(1, FLIP_REQUESTS + 1))
def test_a_flip_of_a_10_90_rollout_stopped_at_any_request_converges_on_the_rerun(fake, stop_at):  # type: ignore[no-untyped-def]
    """The provider host is killed as its request number `stop_at` reaches the API (which still
    serves it: a write lands, its answer is lost). The engine keeps the old state; the re-run, in a
    new host, leaves every served version on the store, at the same split, with the code each
    served before, and never deploys a version that was never deployed."""
    host = _host(fake)
    try:
        state, script = legacy_worker(fake, host)
        old = script.latest
        new = fake.upload_version(ACCOUNT, "w", code=NEW_CODE)
        script.deploy([(new.id, 10.0), (old.id, 90.0)])
        codes = {10.0: new.modules, 90.0: old.modules}
        before = len(fake.calls)

        def kill() -> None:
            if len(fake.calls) - before == stop_at:
                host.proc.kill()
                host.proc.wait()

        fake.on("*", r".", kill, times=FLIP_REQUESTS + 5)
        with pytest.raises(HostError):
            host.up("w", state, store_props("w", ["A", "B"]))
        assert len(fake.calls) - before == stop_at, "stopped at that request"
    finally:
        host.close()
    fake.hooks.clear()
    deployed_before_rerun = deployed_ever(script)

    rerun = _host(fake)
    try:
        rerun.up("w", state, store_props("w", ["A", "B"]))
    finally:
        rerun.close()
    split = {v["percentage"]: script.version(v["version_id"]) for v in script.deployment.versions}
    assert sorted(split) == [10.0, 90.0], "the split kept"
    for pct, version in split.items():
        bindings = {b["name"]: b for b in version.bindings}
        assert bindings["A"]["type"] == bindings["B"]["type"] == "secrets_store_secret", pct
        assert all(bindings[u["name"]] == u for u in UNMANAGED)
        assert version.modules == codes[pct], "the code that served at that share"
    newly = deployed_ever(script) - deployed_before_rerun
    assert all(script.version(v).annotations.get("workers/tag") == "secrets-plane" for v in newly), \
        "the re-run deployed only copies it made"
    assert CANARY_PREFIX not in str(fake.responses[-1])
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a run stopped halfway"] += 1
    FIGURES["faults_recovered"] += 1
