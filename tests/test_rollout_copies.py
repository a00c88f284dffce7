"""Writes during a rollout, through the real dynamic-provider host: each copy of a deployed version
is that version (code, source maps, bindings, compatibility, Smart Placement, CPU limit, cache and
usage settings, Durable Object exports), script-level settings survive, a copy that cannot be
faithful is refused before anything is uploaded, and a deployment that lands while the plane works
is never undone."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES
from fake_cloudflare import Script
from provider_host import HostError
from test_in_flight import ROTATED, applied, rotated
from test_worker_bindings import legacy_props

SMART = {"mode": "smart", "hint": "wnam"}
RUNTIME = {"placement": SMART, "limits": {"cpu_ms": 300_000}, "usage_model": "standard",
           "cache_options": {"enabled": True, "cross_version_cache": False},
           "exports": {"Room": {"type": "durable-object", "storage": "sqlite", "state": "created"}}}
MODULES = {"index.js": (b"export default { v: 2 }", "application/javascript+module"),
           "index.js.map": (b'{"version":3,"mappings":""}', "application/source-map")}


def rollout(fake, script: Script, name: str = "w", new_runtime: dict[str, Any] | None = None,
            old_runtime: dict[str, Any] | None = None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A 10/90 gradual rollout: the new code at 10%, the current one at 90%, both with their own
    per-version settings. Returns (new version id, old version id)."""
    old = fake.upload_version(ACCOUNT, name, runtime=old_runtime if old_runtime is not None else RUNTIME)
    new = fake.upload_version(ACCOUNT, name, modules=MODULES, compatibility_date="2026-10-01",
                              compatibility_flags=["nodejs_compat"],
                              runtime=new_runtime if new_runtime is not None else {**RUNTIME, "limits": {"cpu_ms": 50}})
    script.deploy([(new.id, 10.0), (old.id, 90.0)])
    return new.id, old.id


def test_a_rotation_during_a_10_90_rollout_keeps_placement_and_limits_on_every_copy(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    script.script_settings.update(logpush=True, tail_consumers=[{"service": "tail"}],
                                  observability={"enabled": True, "head_sampling_rate": 0.5})
    new_id, old_id = rollout(fake, script)
    settings_before = dict(script.script_settings)

    state, _ = host.up("w", state, rotated("w"))

    split = {v["percentage"]: v["version_id"] for v in script.deployment.versions}
    assert sorted(split) == [10.0, 90.0], "the same split"
    for pct, source_id in ((10.0, new_id), (90.0, old_id)):
        copy, source = script.version(split[pct]), script.version(source_id)
        assert copy.id != source.id
        assert copy.runtime["placement"] == SMART, "Smart Placement and its hint kept"
        assert copy.runtime["limits"] == source.runtime["limits"], "the CPU limit kept"
        for key in ("usage_model", "cache_options", "exports"):
            assert copy.runtime[key] == source.runtime[key], key
        assert copy.modules == source.modules and copy.main_module == source.main_module
        assert (copy.compatibility_date, copy.compatibility_flags) == (source.compatibility_date,
                                                                       source.compatibility_flags)
        assert {b["name"]: b for b in copy.bindings}["A"]["text"] == ROTATED
    assert script.version(split[10.0]).modules["index.js.map"] == MODULES["index.js.map"], "the source map kept"
    assert script.version(split[10.0]).runtime["limits"] == {"cpu_ms": 50}
    assert script.script_settings == settings_before, "script-level settings are not versioned and stay"
    assert state["last_apply"]["path"] == "versions" and state["last_apply"]["versions"] == 2
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    FIGURES["faults_recovered"] += 1


@pytest.mark.parametrize("runtime,shown,words", [
    ({"exports": {"Room": {"type": "durable-object", "storage": "sqlite", "state": "renamed", "from": "Old"}}}, {},
     "Durable Object exports in a migration state (Room)"),
    ({"containers": [{"class_name": "Box", "images": {"linux/amd64": "registry/box:1"}}]}, {},
     "containers (a copy cannot carry their images)"),
    ({}, {"script_runtime": {"future_knob": {"on": True}}}, "script_runtime.future_knob"),
    ({}, {"script": {"future_flag": "on"}}, "script.future_flag"),
    ({}, {"script": {"placement_mode": "targeted"}}, "placement mode 'targeted'"),
], ids=["exports-renamed", "containers", "unknown-runtime-field", "unknown-script-field", "targeted-without-target"])
def test_a_setting_a_copy_cannot_carry_is_refused_before_any_upload(fake, host, monkeypatch, runtime, shown, words):  # type: ignore[no-untyped-def]
    import fake_cloudflare

    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script, new_runtime=runtime)
    real = fake_cloudflare._version_detail

    def detail(version):  # type: ignore[no-untyped-def]
        """A version GET that shows a field the plane does not know (a newer API, say)."""
        out = real(version)
        if version.id == new_id:
            for part, fields in shown.items():
                out["resources"][part].update(fields)
        return out

    monkeypatch.setattr(fake_cloudflare, "_version_detail", detail)
    history, deployments = len(script.history), len(script.deployments)
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert words in message and new_id in message
    assert "Nothing was written to this Worker" in message and "wrangler versions deploy" in message
    assert (len(script.history), len(script.deployments)) == (history, deployments), "no upload, no deployment"
    assert CANARY_PREFIX not in info.value.details
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight that cannot be copied"] += 1
    FIGURES["faults_clear_errors"] += 1


def test_targeted_placement_with_its_target_is_carried(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    targeted = {"mode": "targeted", "region": "aws:us-east-1"}
    rollout(fake, script, new_runtime={"placement": targeted}, old_runtime={})
    host.up("w", state, rotated("w"))
    split = {v["percentage"]: v["version_id"] for v in script.deployment.versions}
    assert script.version(split[10.0]).runtime["placement"] == targeted
    assert "placement" not in script.version(split[90.0]).runtime, "no placement stays no placement"


def test_a_deploy_landing_while_the_copies_are_made_is_never_undone(fake, host):  # type: ignore[no-untyped-def]
    """`wrangler versions deploy <new>@100%` lands after the plane read the deployment and before
    it deploys its copies: the plane deploys nothing, says so, and the re-run copies what is
    deployed now."""
    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script)
    finished = {}

    def wrangler_versions_deploy() -> None:
        finished["d"] = script.deploy([(new_id, 100.0)])

    # ... while the second copy is uploaded.
    fake.on("POST", r"/scripts/w/versions$", wrangler_versions_deploy, after=1)
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert f"another deployment landed while the plane copied its versions (deployment {finished['d'].id}: " \
           f"{new_id}@100%" in message
    assert "nothing was deployed" in message and "Re-run" in message
    assert script.deployment.id == finished["d"].id, "their deployment stands"
    assert CANARY_PREFIX not in info.value.details

    state, _ = host.up("w", state, rotated("w"))  # the re-run
    (served,) = script.deployment.versions
    assert served["percentage"] == 100.0
    copy = script.version(served["version_id"])
    assert copy.modules == script.version(new_id).modules, "a copy of what they deployed"
    assert {b["name"]: b for b in copy.bindings}["A"]["text"] == ROTATED
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy during version copies"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_deploy_landing_just_before_the_plane_deploys_is_put_back(fake, host):  # type: ignore[no-untyped-def]
    """The narrowest window: a deployment lands after the plane's last check and before its own
    deployment reaches the API. Ours replaced it for a moment: the plane deploys theirs again and
    says so; the re-run converges on top of it."""
    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script)
    finished = {}

    def wrangler_versions_deploy() -> None:
        finished["d"] = script.deploy([(new_id, 100.0)])

    fake.on("POST", r"/scripts/w/deployments$", wrangler_versions_deploy)
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert f"a deployment (deployment {finished['d'].id}: {new_id}@100%) landed just before" in message
    assert "it was put back as it was" in message
    assert script.deployment.versions == [{"version_id": new_id, "percentage": 100.0}], "theirs serves again"
    assert script.deployment.annotations["workers/message"].startswith(
        f"secrets-plane: restore deployment {finished['d'].id}")

    host.up("w", state, rotated("w"))
    (served,) = script.deployment.versions
    assert script.version(served["version_id"]).modules == script.version(new_id).modules
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy during version copies"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_deploy_right_after_ours_is_left_standing_and_reported(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script)
    later = {}

    def wrangler_rollback() -> None:
        later["d"] = script.deploy([(new_id, 100.0)])

    # After our deployment POST, the check lists the deployments (the 3rd deployments GET).
    fake.on("GET", r"/scripts/w/deployments$", wrangler_rollback, after=2)
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert f"a deployment (deployment {later['d'].id}: {new_id}@100%) landed right after" in message
    assert script.deployment.id == later["d"].id, "never undone"


def test_a_rollout_write_costs_its_stated_calls(fake, host):  # type: ignore[no-untyped-def]
    """Read the deployment and the latest version, read and download each deployed version, upload
    each copy, read the deployment again, deploy, and check the result: 5 + 3 per version."""
    state, script = applied(fake, host)
    rollout(fake, script)
    before = fake.api_calls("w")
    host.up("w", state, rotated("w"))
    # + the secrets-bulk call refused with 10215 that sent the write down this path
    assert fake.api_calls("w") - before == 1 + 5 + 3 * 2


# ---- removing secrets: which 404 is which ---------------------------------------------------------

@pytest.mark.parametrize("count,gone,writes", [(30, "S010", 1 + 1 + 1), (130, "S120", 2 + 2 + 1)],
                         ids=["one-batch", "second-batch"])
def test_a_delete_whose_secret_is_already_gone_removes_the_rest(fake, host, count, gone, writes):  # type: ignore[no-untyped-def]
    """A 404 about a secret (10056) is not the Worker being gone (10007): the rest are still removed,
    whichever batch meets it."""
    fake.bulk_delete_missing = "404"
    names = [f"S{i:03d}" for i in range(count)]
    fake.add_script(ACCOUNT, "w", [{"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv1"}])
    state, _ = host.up("w", None, legacy_props("w", names))
    script = fake.scripts[(ACCOUNT, "w")]
    script.bindings = [b for b in script.bindings if b["name"] != gone]  # someone removed one by hand
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert set(fake.bindings(ACCOUNT, "w")) == {"CACHE"}, "every managed secret removed, nothing else"
    batches = [p for m, p in fake.calls if m == "PATCH" and p.endswith("/scripts/w/secrets-bulk")]
    assert len(batches) == writes, "create; delete: the batch refused, then what was left of it"


def test_a_delete_of_more_than_100_secrets_is_batched(fake, host):  # type: ignore[no-untyped-def]
    names = [f"S{i:03d}" for i in range(130)]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", names))
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert fake.bindings(ACCOUNT, "w") == {}


def test_a_delete_on_a_worker_that_is_gone_is_done(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    del fake.scripts[(ACCOUNT, "w")]
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})  # no error
