"""Workers with versions in flight (an uploaded preview version, a gradual deployment): Cloudflare
refuses script-level writes (10214/10215). The provider applies version-aware, as `wrangler
versions secret put` + `versions deploy` do, and never deploys code that was not deployed."""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES
from fake_cloudflare import Fault, Script
from provider_host import HostError
from test_worker_bindings import UNMANAGED, legacy_props, olds, seed_store, store_props, unmanaged_unchanged

ROTATED = CANARY_PREFIX + "A-rotated"


def rotated(script: str) -> dict:  # type: ignore[type-arg]
    props = legacy_props(script, ["A", "B"])
    props["values"]["A"] = ROTATED
    return props


def applied(fake, host, script: str = "w", extra: tuple[dict, ...] = ()) -> tuple[dict, Script]:  # type: ignore[no-untyped-def, type-arg]
    """A Worker with bindings the plane does not manage, and the plane's A and B applied."""
    fake.add_script(ACCOUNT, script, UNMANAGED + list(extra))
    state, _ = host.up(script, None, legacy_props(script, ["A", "B"]))
    return state, fake.scripts[(ACCOUNT, script)]


def refused(host, state: dict, script: str = "w") -> tuple[str, str]:  # type: ignore[no-untyped-def, type-arg]
    """A rotation the provider fails: the error's message line, and everything the host reported."""
    with pytest.raises(HostError) as info:
        host.up(script, state, rotated(script))
    return info.value.details.strip().splitlines()[-1], info.value.details


def code_of(fake, script: str, version_id: str) -> bytes:  # type: ignore[no-untyped-def]
    return fake.scripts[(ACCOUNT, script)].version(version_id).modules["index.js"][0]


def test_rotation_across_five_workers_two_of_them_in_flight(fake, host):  # type: ignore[no-untyped-def]
    scripts = [f"w{i}" for i in range(5)]
    states = {}
    for s in scripts:
        fake.add_script(ACCOUNT, s, UNMANAGED)
        states[s], _ = host.up(s, None, legacy_props(s, ["A", "B"]))
    # w1: `wrangler versions upload` left a preview version that is not deployed.
    w1 = fake.scripts[(ACCOUNT, "w1")]
    deployed_w1 = w1.latest.id
    preview = fake.upload_version(ACCOUNT, "w1", code=b"export default { preview: 'never deploy me' }")
    # w2: a gradual rollout, 10% new code and 90% the current one.
    w2 = fake.scripts[(ACCOUNT, "w2")]
    old_w2 = w2.latest.id
    new_w2 = fake.upload_version(ACCOUNT, "w2", code=b"export default { v: 2 }")
    w2.deploy([(new_w2.id, 10.0), (old_w2, 90.0)])
    calls = {s: fake.api_calls(s) for s in scripts}
    versions = fake.versions()

    for s in scripts:
        states[s], _ = host.up(s, states[s], rotated(s))
    FIGURES["faults_injected"] += 2
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 2
    FIGURES["faults_recovered"] += 2  # both in-flight Workers converged, keeping their percentages

    for s in ("w0", "w3", "w4"):
        assert fake.api_calls(s) - calls[s] == 1 and fake.versions()[s] - versions[s] == 1, s
        assert fake.bindings(ACCOUNT, s)["A"]["text"] == ROTATED
    # w1: the deployed version was copied with the rotation and deployed at 100%; the preview
    # version was neither copied nor deployed.
    split = w1.deployment.versions
    assert len(split) == 1 and split[0]["percentage"] == 100.0
    copy = w1.version(split[0]["version_id"])
    assert copy.id not in (deployed_w1, preview.id)
    assert code_of(fake, "w1", copy.id) == code_of(fake, "w1", deployed_w1) != preview.modules["index.js"][0]
    assert {b["name"]: b for b in copy.bindings}["A"]["text"] == ROTATED
    assert all({b["name"]: b for b in copy.bindings}[u["name"]] == u for u in UNMANAGED)
    assert not any(v["version_id"] == preview.id for d in w1.deployments for v in d.versions)
    assert states["w1"]["last_apply"]["path"] == "versions" and states["w1"]["last_apply"]["versions"] == 1
    # w2: both deployed versions copied with the rotation, each keeping its own code and its share.
    split = {v["percentage"]: v["version_id"] for v in w2.deployment.versions}
    assert sorted(split) == [10.0, 90.0]
    assert code_of(fake, "w2", split[10.0]) == b"export default { v: 2 }"
    assert code_of(fake, "w2", split[90.0]) == code_of(fake, "w2", old_w2)
    for vid in split.values():
        bindings = {b["name"]: b for b in w2.version(vid).bindings}
        assert bindings["A"]["text"] == ROTATED and bindings["B"]["text"] == CANARY_PREFIX + "B"
        assert all(bindings[u["name"]] == u for u in UNMANAGED)
        assert w2.version(vid).annotations["workers/message"].startswith("secrets-plane: rotate A (staging), copy of ")
    assert states["w2"]["last_apply"]["versions"] == 2


def test_a_flip_on_a_gradual_deployment_keeps_its_percentages(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    script = fake.scripts[(ACCOUNT, "w")]
    old = script.latest.id
    # The new code also moves to a newer runtime: each copy must keep its own version's runtime.
    new = fake.upload_version(ACCOUNT, "w", code=b"export default { v: 2 }", compatibility_date="2026-10-01",
                              compatibility_flags=["nodejs_compat"])
    script.deploy([(new.id, 25.0), (old, 75.0)])
    host.up("w", state, store_props("w", ["A", "B"]))
    split = {v["percentage"]: v["version_id"] for v in script.deployment.versions}
    assert sorted(split) == [25.0, 75.0]
    for pct, original in ((25.0, new.id), (75.0, old)):
        copy, source = script.version(split[pct]), script.version(original)
        assert copy.modules == source.modules and copy.main_module == source.main_module
        assert (copy.compatibility_date, copy.compatibility_flags) == (source.compatibility_date, source.compatibility_flags)
        assert {b["name"]: b for b in copy.bindings}["A"]["type"] == "secrets_store_secret"
    assert script.version(split[25.0]).compatibility_flags == ["nodejs_compat"]


STATIC_ASSETS = {"config": {"html_handling": "auto-trailing-slash", "not_found_handling": "404-page"}}


@pytest.mark.parametrize("binding", [True, False], ids=["with-an-assets-binding", "without-one"])
def test_a_worker_that_cannot_be_copied_is_refused_and_converges_after_versions_deploy(fake, host, binding):  # type: ignore[no-untyped-def]
    """A version with static assets cannot be copied faithfully (the Workers API attaches assets
    only from an upload session), whether or not its code binds them: the provider refuses before
    writing, naming the way out."""
    assets = {"type": "assets", "name": "ASSETS"}
    state, script = applied(fake, host, "site", (assets,) if binding else ())
    deployed = script.latest.id
    script.latest.runtime["assets"] = STATIC_ASSETS
    preview = fake.upload_version(ACCOUNT, "site")
    history = len(script.history)
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight, not copyable"] += 1
    message, details = refused(host, state, "site")
    assert f"Worker 'api' (script 'site') has versions in flight: deployed {deployed} (100%); latest {preview.id}" in message
    assert "never deploys code that was not deployed" in message and "static assets" in message
    assert f"wrangler versions deploy {preview.id}@100% --name site" in message
    assert f"wrangler rollback {deployed} --name site" in message
    assert CANARY_PREFIX not in details
    assert len(script.history) == history, "nothing was uploaded or written"
    FIGURES["faults_clear_errors"] += 1
    # The way out: finish the rollout; the next run converges on the ordinary path.
    script.deploy([(preview.id, 100.0)])
    host.up("site", state, rotated("site"))
    assert fake.bindings(ACCOUNT, "site")["A"]["text"] == ROTATED
    assert unmanaged_unchanged(fake, "site")
    assert fake.bindings(ACCOUNT, "site").get("ASSETS") == (assets if binding else None)


@pytest.mark.parametrize("shape,words", [
    ("workers-sites", "Workers Sites (`__STATIC_CONTENT_MANIFEST`)"),
    ("service-worker", "not an ES module Worker (no `main_module` among its modules: a service-worker script)"),
])
def test_a_version_whose_code_cannot_be_copied_as_modules_is_refused(fake, host, shape, words):  # type: ignore[no-untyped-def]
    """Workers Sites (a `__STATIC_CONTENT_MANIFEST` module) and service-worker scripts (no main
    module) cannot be uploaded again as modules: refused before anything is written."""
    state, script = applied(fake, host)
    deployed = script.latest
    if shape == "workers-sites":
        deployed.modules["__STATIC_CONTENT_MANIFEST"] = (b"{}", "text/plain")
    else:
        deployed.modules = {"worker.js": (b"addEventListener('fetch', () => {})", "application/javascript")}
    fake.upload_version(ACCOUNT, "w")
    history = len(script.history)
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight, not copyable"] += 1
    message, details = refused(host, state)
    assert words in message
    assert f"wrangler rollback {deployed.id} --name w" in message
    assert len(script.history) == history and unmanaged_unchanged(fake, "w")
    FIGURES["faults_clear_errors"] += 1


@pytest.mark.parametrize("call,words", [
    ("deployment", "reading the deployment of Worker 'api' (script 'w')"),
    ("version", "cannot copy the deployed versions: version "),
])
def test_a_deployment_or_version_that_cannot_be_read_stops_before_writing(fake, host, call, words):  # type: ignore[no-untyped-def]
    state, _ = applied(fake, host)
    fake.upload_version(ACCOUNT, "w")
    history = len(fake.scripts[(ACCOUNT, "w")].history)
    path = r"/workers/scripts/w/deployments$" if call == "deployment" else r"/workers/workers/w/versions/[^/]+$"
    fake.faults.append(Fault("GET", path, kind="status", status=503, times=99))
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    message, details = refused(host, state)
    assert words in message and CANARY_PREFIX not in details
    assert len(fake.scripts[(ACCOUNT, "w")].history) == history and unmanaged_unchanged(fake, "w")
    FIGURES["faults_clear_errors"] += 1


@pytest.mark.parametrize("share_of_new", [10.0, 75.0])
def test_the_way_back_from_a_gradual_rollout_names_the_version_with_most_traffic(fake, host, share_of_new):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    old = script.latest.id
    script.latest.runtime["assets"] = STATIC_ASSETS
    new = fake.upload_version(ACCOUNT, "w", code=b"export default { v: 2 }").id
    script.deploy([(new, share_of_new), (old, 100.0 - share_of_new)])
    most = new if share_of_new > 50 else old
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight, not copyable"] += 1
    message, details = refused(host, state)
    assert f"deployed {new} ({share_of_new:g}%), {old} ({100 - share_of_new:g}%)" in message
    assert f"wrangler rollback {most} --name w" in message, "back to what most requests already run"
    FIGURES["faults_clear_errors"] += 1


def test_a_deploy_of_the_copies_that_fails_changes_no_traffic_and_a_rerun_converges(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    old = script.latest.id
    new = fake.upload_version(ACCOUNT, "w", code=b"export default { v: 2 }")
    script.deploy([(new.id, 10.0), (old, 90.0)])
    fault = Fault("POST", r"/workers/scripts/w/deployments$", kind="status", status=503, times=99)
    fake.faults.append(fault)
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    message, details = refused(host, state)
    assert "CloudflareOperationError: apply: deploying the copied versions of Worker 'api' (script 'w')" in message
    assert "re-run" in message.lower(), "says what to do"
    assert CANARY_PREFIX not in details
    assert script.deployment.versions == [{"version_id": new.id, "percentage": 10.0},
                                          {"version_id": old, "percentage": 90.0}], "traffic untouched"
    FIGURES["faults_clear_errors"] += 1

    fake.faults.remove(fault)
    state, _ = host.up("w", state, rotated("w"))
    split = {v["percentage"]: v["version_id"] for v in script.deployment.versions}
    assert sorted(split) == [10.0, 90.0] and not {new.id, old} & set(split.values())
    assert code_of(fake, "w", split[10.0]) == b"export default { v: 2 }"
    for vid in split.values():
        assert {b["name"]: b for b in script.version(vid).bindings}["A"]["text"] == ROTATED
    assert unmanaged_unchanged(fake, "w")


def test_a_delete_with_versions_in_flight_removes_from_the_deployed_version_only(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    deployed = script.latest.id
    preview = fake.upload_version(ACCOUNT, "w", code=b"export default { preview: 'never deploy me' }")
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    host.delete("w", state["_id"], olds(state))
    split = script.deployment.versions
    assert len(split) == 1 and split[0]["percentage"] == 100.0 and split[0]["version_id"] not in (deployed, preview.id)
    assert code_of(fake, "w", split[0]["version_id"]) == code_of(fake, "w", deployed)
    assert set(fake.bindings(ACCOUNT, "w")) == {b["name"] for b in UNMANAGED} and unmanaged_unchanged(fake, "w")
    FIGURES["faults_recovered"] += 1


def test_a_copy_that_cannot_be_uploaded_changes_no_traffic_and_names_the_version(fake, host):  # type: ignore[no-untyped-def]
    state, script = applied(fake, host)
    deployed = script.latest.id
    fake.upload_version(ACCOUNT, "w", code=b"export default { preview: 'never deploy me' }")
    split = list(script.deployment.versions)
    fake.faults.append(Fault("POST", r"/workers/workers/w/versions$", kind="status", status=503, times=99))
    FIGURES["faults_injected"] += 1
    FIGURES["faults_kind_versions in flight (10214/10215)"] += 1
    message, details = refused(host, state)
    assert f"CloudflareOperationError: apply: copying version {deployed} of Worker 'api' (script 'w')" in message
    assert "re-run" in message.lower() and CANARY_PREFIX not in details
    assert script.deployment.versions == split and unmanaged_unchanged(fake, "w")
    FIGURES["faults_clear_errors"] += 1
