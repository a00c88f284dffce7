"""Writes during a rollout, through the real dynamic-provider host, against the fake's Workers API
(which answers only what the SDK documents): each copy of a served version is that version in
every field the read returns except the plane's bindings and the annotations, a copy that cannot
be faithful is refused before anything is uploaded, and a deployment that lands while the plane
works is never undone and never misreported."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES
from fake_cloudflare import Script
from provider_host import HostError
from test_in_flight import ROTATED, applied, rotated
from test_worker_bindings import UNMANAGED, legacy_props, seed_store, store_props

from stacks.resources.version_copies import COPY_FIELDS, OUTPUT

SMART = {"mode": "smart"}
ROOM = {"Room": {"type": "durable-object", "storage": "sqlite", "state": "created"}}
OLD_RUNTIME = {"placement": SMART, "limits": {"cpu_ms": 300_000, "subrequests": 200}, "usage_model": "standard",
               "cache_options": {"enabled": True, "cross_version_cache": False}, "exports": ROOM,
               "containers": [{"class_name": "Room"}],
               "package_dependencies": [{"name": "hono", "installedVersion": "4.6.1", "packageJsonVersion": "^4.6.0"}]}
NEW_RUNTIME = {"placement": {"mode": "targeted", "region": "aws:us-east-1"}, "limits": {"cpu_ms": 50},
               "usage_model": "standard", "cache_options": {"enabled": False}, "exports": ROOM,
               "containers": [{"class_name": "Room"}]}
MODULES = {"index.js": (b"export default { v: 2 }", "application/javascript+module"),
           "index.js.map": (b'{"version":3,"mappings":""}', "application/source-map")}
OLD_MODULES = {"index.js": (b"export default { v: 1 }", "application/javascript+module")}


def rollout(fake, script: Script, name: str = "w", new_runtime: dict[str, Any] | None = None,
            old_runtime: dict[str, Any] | None = None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A 10/90 gradual rollout: new code at 10%, the current code at 90%, each with its own
    per-version settings. Returns (new version id, old version id)."""
    old = fake.upload_version(ACCOUNT, name, modules=OLD_MODULES,
                              runtime=old_runtime if old_runtime is not None else OLD_RUNTIME)
    new = fake.upload_version(ACCOUNT, name, modules=MODULES, compatibility_date="2026-10-01",
                              compatibility_flags=["nodejs_compat"],
                              runtime=new_runtime if new_runtime is not None else NEW_RUNTIME)
    script.deploy([(new.id, 10.0), (old.id, 90.0)])
    return new.id, old.id


def carried(script: Script, version_id: str) -> dict[str, Any]:
    """A version as the Workers API shows it, less what a copy never carries (output-only fields,
    its annotations and its bindings): what a copy must equal."""
    import fake_cloudflare

    view = fake_cloudflare._workers_version(script, script.version(version_id), modules=True)
    return {k: v for k, v in view.items() if COPY_FIELDS.get(k, ("?",))[0] != OUTPUT
            and k not in ("annotations", "bindings")}


def split_of(script: Script) -> dict[float, str]:
    return {v["percentage"]: v["version_id"] for v in script.deployment.versions}


def test_a_rotation_during_a_10_90_rollout_copies_each_version_whole(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    script.script_settings.update(logpush=True, tail_consumers=[{"service": "tail"}],
                                  observability={"enabled": True, "head_sampling_rate": 0.5})
    new_id, old_id = rollout(fake, script)
    settings_before = dict(script.script_settings)

    state, _ = host.up("w", state, rotated("w"))

    split = split_of(script)
    assert sorted(split) == [10.0, 90.0], "the same split"
    for pct, source_id in ((10.0, new_id), (90.0, old_id)):
        copy = split[pct]
        assert copy != source_id
        assert carried(script, copy) == carried(script, source_id), "code and every carried field"
        bindings = {b["name"]: b for b in script.version(copy).bindings}
        assert bindings["A"]["text"] == ROTATED and bindings["B"]["text"] == CANARY_PREFIX + "B"
        assert all(bindings[u["name"]] == u for u in UNMANAGED), "every other binding, from that version"
        assert script.version(copy).annotations == {
            "workers/message": f"secrets-plane: rotate A (staging), copy of {source_id} at {pct:g}%",
            "workers/tag": "secrets-plane"}
    assert carried(script, split[10.0]) != carried(script, split[90.0]), "two different versions, kept apart"
    assert script.version(split[10.0]).runtime["containers"] == [{"class_name": "Room"}], "Containers kept"
    assert script.script_settings == settings_before, "script-level settings are not versioned and stay"
    assert state["last_apply"]["path"] == "versions" and state["last_apply"]["versions"] == 2
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    FIGURES["faults_recovered"] += 1


def test_a_rollout_write_costs_its_stated_calls(fake, host):  # type: ignore[no-untyped-def]
    """The refused secrets-bulk call that sends the write down this path; the deployment and the
    newest versions; each served version read whole; each copy made; the deployment again; the
    deployment of the copies; the history that checks it: 1 + 2 + 2 per version + 3."""
    state, script = applied(fake, host)
    rollout(fake, script)
    before = fake.api_calls("w")
    host.up("w", state, rotated("w"))
    assert fake.api_calls("w") - before == 1 + 2 + 2 * 2 + 3
    assert fake.count("GET", r"/content/v2$") == 0, "no classic code download"


@pytest.mark.parametrize("shown,words", [
    ({"exports": {"Room": {"type": "durable-object", "storage": "sqlite", "state": "expecting-transfer",
                           "transfer_from": "old-worker"}}},
     "Durable Object exports in transfer (Room)"),
    ({"assets": {"config": {"html_handling": "none"}}}, "static assets (`assets`)"),
    ({"migrations": {"new_tag": "v2", "old_tag": "v1", "steps": [{"new_sqlite_classes": ["Room"]}]},
      "migration_tag": "v1"}, "Durable Object `migrations` that have not run"),
    ({"future_knob": {"on": True}}, "`future_knob` (a field the plane does not know how to carry)"),
], ids=["exports-in-transfer", "static-assets-without-a-binding", "migrations-not-run", "unknown-field"])
def test_what_a_copy_cannot_carry_is_refused_before_any_upload(fake, host, shown, words):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script)
    version = script.version(new_id)
    version.runtime.update({k: v for k, v in shown.items() if k != "future_knob"})
    version.undocumented.update({k: v for k, v in shown.items() if k == "future_knob"})
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


def test_migrations_that_ran_are_not_sent_again(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    new_id, _ = rollout(fake, script)
    script.version(new_id).runtime.update(exports=None, migration_tag="v2",
                                          migrations={"new_tag": "v2", "old_tag": "v1",
                                                      "steps": [{"new_sqlite_classes": ["Room"]}]})
    host.up("w", state, rotated("w"))
    copy = script.version(split_of(script)[10.0])
    assert "migrations" not in copy.runtime and copy.runtime.get("migration_tag") == "v2"


def test_a_kv_binding_with_a_managed_name_is_refused_on_the_copy_path(fake, host):  # type: ignore[no-untyped-def]
    """The settings path refuses to overwrite an unmanaged binding that has a managed name; so does
    the copy path, before anything is uploaded."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    script = fake.scripts[(ACCOUNT, "w")]
    rollout(fake, script)
    history = len(script.history)
    with pytest.raises(HostError) as info:
        host.up("w", state, legacy_props("w", ["A", "CACHE"]))  # CACHE is a KV namespace on the Worker
    message = info.value.details.strip().splitlines()[-1]
    assert "binding CACHE (a kv_namespace binding), which the manifest did not create" in message
    assert "Nothing was written to this Worker" in message
    assert len(script.history) == history
    for version_id in split_of(script).values():
        assert {b["name"]: b for b in script.version(version_id).bindings}["CACHE"]["type"] == "kv_namespace"


def test_a_copy_the_api_makes_without_an_inherited_binding_is_never_deployed(fake, host):  # type: ignore[no-untyped-def]
    """The Workers API documents no strict mode: an `inherit` it cannot resolve may be dropped
    silently. Each copy's answer is checked before anything is deployed."""
    state, script = applied(fake, host)
    rollout(fake, script)
    split = list(script.deployment.versions)
    fake.drop_inherit, fake.drop_inherit_writes = {"ROOMS"}, 1
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert "was made without ROOMS as sent, so nothing was deployed (1 uploaded copies serve no traffic)" in message
    assert script.deployment.versions == split, "traffic untouched"
    host.up("w", state, rotated("w"))  # the re-run
    for version_id in split_of(script).values():
        assert {b["name"]: b for b in script.version(version_id).bindings}["ROOMS"] == UNMANAGED[1]


# ---- a deploy that lands while the plane works -----------------------------------------------------

def _their_deploy(script: Script, version_ids: list[str], pcts: list[float]) -> dict[str, Any]:
    made: dict[str, Any] = {}

    def deploy() -> None:
        made["d"] = script.deploy(list(zip(version_ids, pcts, strict=True)))

    made["run"] = deploy
    return made


def _serves_their_code_with_the_change(script: Script, theirs: dict[float, str]) -> None:
    served = split_of(script)
    assert sorted(served) == sorted(theirs), "their split"
    for pct, version_id in theirs.items():
        copy = script.version(served[pct])
        assert copy.modules == script.version(version_id).modules, "their code"
        assert {b["name"]: b for b in copy.bindings}["A"]["text"] == ROTATED, "with the change"
        assert copy.annotations["workers/tag"] == "secrets-plane"


@pytest.mark.parametrize("when,hook", [
    ("while the copies are made", ("POST", r"/workers/workers/w/versions$", 1)),
    ("just before the plane deploys", ("POST", r"/workers/scripts/w/deployments$", 0)),
    ("right after the plane deploys", ("GET", r"/workers/scripts/w/deployments$", 2)),
])
def test_a_deploy_landing_while_the_plane_works_stands_and_gets_the_change(fake, host, when, hook):  # type: ignore[no-untyped-def]
    """`wrangler versions deploy <new>@100%` lands at each point of the write: its intent stands
    (its code, at its split) and the change is written on top of it, in the same apply."""
    state, script = applied(fake, host)
    new_id, old_id = rollout(fake, script)
    theirs = _their_deploy(script, [new_id], [100.0])
    method, path, after = hook
    fake.on(method, path, theirs["run"], after=after)
    earlier = len(script.deployments)
    state, _ = host.up("w", state, rotated("w"))
    assert "d" in theirs, f"their deploy landed {when}"
    _serves_their_code_with_the_change(script, {100.0: new_id})
    assert not any(v["version_id"] == old_id for v in script.deployment.versions)
    ours = [d for d in script.deployments[earlier:] if d.source == "api"]
    assert all(d.annotations.get("workers/message", "").startswith("secrets-plane: rotate A") for d in ours), \
        "nothing of theirs was put back or undone: only the plane's own deployments of its copies"
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_a deploy during version copies"] += 1
    FIGURES["faults_recovered"] += 1


def test_deploys_landing_both_before_and_after_the_plane_deploys(fake, host):  # type: ignore[no-untyped-def]
    """One lands just before the plane's deployment (which displaces it), another right after: the
    later one decides what serves, and it gets the change; the earlier one is never put back over it."""
    state, script = applied(fake, host)
    new_id, old_id = rollout(fake, script)
    before = _their_deploy(script, [new_id], [100.0])
    after = _their_deploy(script, [new_id, old_id], [50.0, 50.0])
    fake.on("POST", r"/workers/scripts/w/deployments$", before["run"])
    fake.on("GET", r"/workers/scripts/w/deployments$", after["run"], after=2)
    host.up("w", state, rotated("w"))
    assert "d" in before and "d" in after, "both landed"
    codes = sorted(script.version(v["version_id"]).modules["index.js"][0] for v in script.deployment.versions)
    assert codes == sorted([MODULES["index.js"][0], OLD_MODULES["index.js"][0]]), "the later deploy's versions"
    assert [v["percentage"] for v in script.deployment.versions] == [50.0, 50.0], "at its split"
    for v in script.deployment.versions:
        assert {b["name"]: b for b in script.version(v["version_id"]).bindings}["A"]["text"] == ROTATED


def test_a_displaced_deploy_that_cannot_be_copied_is_put_back_with_force_after_10220(fake, host):  # type: ignore[no-untyped-def]
    """A deploy lands just before the plane's and its version cannot be copied (static assets): the
    plane puts back exactly what it displaced. Cloudflare refuses that as a rollback whose secrets
    changed (10220); the plane sends `force` for it, and says what serves."""
    state, script = applied(fake, host)
    new_id, old_id = rollout(fake, script)
    site = fake.upload_version(ACCOUNT, "w", code=b"export default { site: 1 }",
                               runtime={"assets": {"config": {"html_handling": "none"}}})
    theirs = _their_deploy(script, [site.id], [100.0])
    fake.on("POST", r"/workers/scripts/w/deployments$", theirs["run"])
    with pytest.raises(HostError) as info:
        host.up("w", state, rotated("w"))
    message = info.value.details.strip().splitlines()[-1]
    assert f"{site.id}@100%" in message and "landed just before the plane deployed its copies" in message
    assert "static assets" in message and "It was put back as it was: traffic serves" in message
    assert "without the change" in message and "Re-run" in message
    assert script.deployment.versions == [{"version_id": site.id, "percentage": 100.0}], "theirs serves again"
    forced = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/deployments")
              and r.query.get("force") == ["true"]]
    assert len(forced) == 1, "force only for the put-back, after the API refused it with 10220"
    assert any(status == 400 and payload["errors"][0]["code"] == 10220 for m, p, status, payload in fake.responses
               if m == "POST" and p.endswith("/deployments"))
    assert CANARY_PREFIX not in info.value.details


def test_a_reordered_deployment_answer_is_the_same_deployment(fake, host):  # type: ignore[no-untyped-def]
    """Deployments are compared as sets of (version, percentage) to a thousandth: an answer that
    lists the versions in another order, or 9.9999999 for 10, is the one that was sent."""
    state, script = applied(fake, host)
    rollout(fake, script)
    fake.deployment_answer = lambda versions: [dict(v, percentage=v["percentage"] - 1e-7) for v in reversed(versions)]
    versions = len(script.history)
    host.up("w", state, rotated("w"))
    assert len(script.history) == versions + 2, "two copies, and no more"
    host.up("w", state, rotated("w"))
    assert len(script.history) == versions + 4, "a re-run with a new value makes two more, not a pile"


def test_targeted_placement_with_its_target_is_carried(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    targeted = {"mode": "targeted", "target": [{"hostname": "db.example.com"}]}
    rollout(fake, script, new_runtime={"placement": targeted}, old_runtime={})
    host.up("w", state, rotated("w"))
    split = split_of(script)
    assert script.version(split[10.0]).runtime["placement"] == targeted
    assert "placement" not in script.version(split[90.0]).runtime, "no placement stays no placement"


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


__all__ = ["MODULES", "OLD_RUNTIME", "seed_store", "store_props"]


def test_a_displaced_deploy_that_already_holds_the_change_serves_again_as_it_was(fake, host):  # type: ignore[no-untyped-def]
    """A flip (shapes only) during a rollout; a deploy of a version already on the store lands just
    before the plane's deployment, which displaces it: it holds the change already, so it is put back
    exactly as it was, not copied."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    script = fake.scripts[(ACCOUNT, "w")]
    rollout(fake, script)
    on_store = [b if b["name"] not in ("A", "B") else
                {"type": "secrets_store_secret", "name": b["name"], "store_id": spec["store_id"],
                 "secret_name": spec["secret_name"]}
                for b in script.latest.bindings
                for spec in [next((x for x in store_props("w", ["A", "B"])["bindings"] if x["name"] == b["name"]), {})]]
    theirs = fake.upload_version(ACCOUNT, "w", bindings=on_store, code=b"export default { v: 3 }")
    fake.on("POST", r"/workers/scripts/w/deployments$", lambda: script.deploy([(theirs.id, 100.0)]))
    history = len(script.history)
    host.up("w", state, store_props("w", ["A", "B"]))
    assert script.deployment.versions == [{"version_id": theirs.id, "percentage": 100.0}], "theirs, as it was"
    assert len(script.history) == history + 2, "the two copies of the rollout, and no copy of theirs"
