"""What a run reads, counted at the fake API: listings at the documented maximum page size with no
extra page, the audit in two calls per Worker whatever the number of credentials, and reads scoped
to what a run changes (scope.py, drift.py). Counts only, never times."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import FakeCloudflare, StoreSecret
from live_states import desired, seed_healthy
from provider_host import ProviderHost
from test_ops import calls, pulumi_log  # noqa: F401  (the stand-in `pulumi`, a fixture)
from test_worker_bindings import UNMANAGED, seed_store, store_props

from stacks.api.client import make_client
from stacks.cli import main
from stacks.core.naming import BINDINGS_TYPE, STORE_SECRET_TYPE, store_secret_resource, urn
from stacks.core.scope import SCOPE_FILE_ENV, Scope, cutoff, drifted, newest, oldest
from stacks.live.account import LiveAccount


def _live(fake: FakeCloudflare) -> LiveAccount:
    return LiveAccount(ACCOUNT, make_client("t", fake.base_url))


def _seed_store(fake: FakeCloudflare, n: int) -> None:
    fake.add_store(ACCOUNT, STORE_ID)
    for i in range(n):
        fake.add_store_secret(STORE_ID, StoreSecret(id=f"id{i:03d}", name=f"S{i:03d}", scopes=["workers"]))


@pytest.mark.parametrize("secrets,calls", [(0, 1), (25, 1), (99, 1), (100, 1), (101, 2), (200, 2), (250, 3)])
def test_store_listing_reads_100_a_page_and_no_empty_page(fake: FakeCloudflare, secrets: int, calls: int) -> None:
    _seed_store(fake, secrets)
    found = _live(fake).store_secrets(STORE_ID)
    assert len(found) == secrets
    assert fake.count("GET", r"/secrets$") == calls
    assert all(r.query.get("per_page") == ["100"] for r in fake.requests if r.path.endswith("/secrets")), "the maximum"


def test_stores_listing_is_read_once_per_command(fake: FakeCloudflare) -> None:
    _seed_store(fake, 3)
    live = _live(fake)
    assert live.store_exists(STORE_ID) and live.find_store("default") == STORE_ID and live.stores()
    assert fake.count("GET", r"/stores$") == 1


def _audit_calls(tmp_path: Path, s: int, w: int, k: int, backend: str) -> int:
    import datetime as dt

    import bench  # noqa: F401
    from bench.estate import STACK, manifest, write_project
    from bench.scenarios import seeded_fake
    from stacks.core.estate import load_estate
    from stacks.live.audit import build_audit

    data = manifest(s, w, k, backend=backend)
    fake = seeded_fake(data)
    try:
        _seed_store(fake, 0)
        estate = load_estate(write_project(tmp_path / f"audit-{k}-{backend}", data))
        desired = estate.desired_state(STACK)
        for worker in desired.workers:  # every Worker serving what the manifest says, one version each
            fake.deploy(ACCOUNT, worker.script_name, [
                {"type": "secret_text", "name": b.name, "text": "x"} if b.kind == "secret_text" else
                {"type": "secrets_store_secret", "name": b.name, "store_id": STORE_ID,
                 "secret_name": b.store_secret_name} for b in worker.bindings])
        for spec in desired.store_secrets:
            fake.add_store_secret(STORE_ID, StoreSecret(id=spec.store_secret_name, name=spec.store_secret_name,
                                                        scopes=list(spec.scopes)))
        before = len(fake.calls)
        report = build_audit(estate, desired, _live(fake), dt.date(2026, 12, 1))
        assert all(c.status == "ok" for c in report.credentials), [c.status for c in report.credentials][:3]
        return len(fake.calls) - before
    finally:
        fake.stop()


@pytest.mark.parametrize("backend", ["legacy", "store"])
def test_audit_reads_each_worker_once_whatever_the_number_of_credentials(tmp_path: Path, backend: str) -> None:
    w = 6
    few, many = _audit_calls(tmp_path, 12, w, 2, backend), _audit_calls(tmp_path, 12, w, 10, backend)
    assert few == many, "audit's calls grow with the credentials a Worker holds"
    assert many <= 2 * w + 6  # the target: two per Worker plus the listings
    assert many == 2 * w + (1 if backend == "store" else 0)  # store mode: the secrets listing (the store is adopted)


# ---- reads scoped to the change -----------------------------------------------------------------

def cli(project: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    return code, out.getvalue(), err.getvalue()


def _pin_store(project: Path) -> None:
    path = project / "Pulumi.staging.yaml"
    path.write_text(path.read_text() + "  secrets-plane:backend: store\n")


def _pulumi_calls() -> list[dict[str, Any]]:
    return calls(Path(os.environ["FAKE_PULUMI_LOG"]))


def _record(fake: FakeCloudflare) -> dict[str, Any]:
    """Stack outputs as the plane leaves them after it read every Worker: each script's newest deployment."""
    return {"served_as_of": {name: script.deployments[-1].created_on for (_, name), script in fake.scripts.items()}}


def _steps(*writes: tuple[str, str]) -> dict[str, Any]:
    """`pulumi preview --json` with these (type, name) updated, and every other resource the same."""
    return {"steps": [{"op": "update", "urn": urn("staging", kind, name)} for kind, name in writes]}


def _stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outputs: dict[str, Any] | None,
              preview: dict[str, Any]) -> None:
    if outputs is not None:
        (tmp_path / "outputs.json").write_text(json.dumps(outputs))
        monkeypatch.setenv("FAKE_PULUMI_OUTPUTS", str(tmp_path / "outputs.json"))
    (tmp_path / "preview.json").write_text(json.dumps(preview))
    monkeypatch.setenv("FAKE_PULUMI_PREVIEW", str(tmp_path / "preview.json"))


def _worker_reads(fake: FakeCloudflare, since: int) -> set[str]:
    """Scripts whose deployment or versions were read since call number `since`."""
    reads = set()
    for method, path in fake.calls[since:]:
        if method == "GET" and ("/deployments" in path or "/versions" in path):
            reads.add(path.split("/workers/")[1].split("/")[1])
    return reads


@pytest.mark.usefixtures("pulumi_log")
def test_a_run_with_no_record_falls_back_to_the_full_check_and_says_so(api, project, tmp_path,  # type: ignore[no-untyped-def]
                                                                         monkeypatch) -> None:
    seed_healthy(api, "staging", "store")
    _pin_store(project)
    _stand_in(tmp_path, monkeypatch, None, _steps())
    code, _, err = cli(project, "scope", "--stack", "staging", "--output", str(project / "scope.json"))
    assert code == 0, err
    assert "full check: the stack outputs hold no `served_as_of` record" in err
    scope = Scope.from_json(json.loads((project / "scope.json").read_text()))
    assert scope.full
    refreshes = [c["argv"] for c in _pulumi_calls() if c["argv"][0] == "refresh"]
    assert refreshes == [["refresh", "--yes", "--skip-preview", "--stack", "staging"]], "a full refresh"
    before = len(api.calls)
    code, out, _ = cli(project, "preflight", "--stack", "staging", "--scope", str(project / "scope.json"))
    assert code == 0, out
    assert _worker_reads(api, before) == {w.script_name for w in desired("staging", "store", project).workers}


@pytest.mark.usefixtures("pulumi_log")
def test_an_unchanged_worker_is_never_read_on_a_no_op_merge(api, project, tmp_path,  # type: ignore[no-untyped-def]
                                                            monkeypatch) -> None:
    seed_healthy(api, "staging", "store")
    _pin_store(project)
    _stand_in(tmp_path, monkeypatch, _record(api), _steps())
    before = len(api.calls)
    code, _, err = cli(project, "scope", "--stack", "staging", "--output", str(project / "scope.json"))
    assert code == 0, err
    assert api.calls[before:] == [("GET", f"/accounts/{ACCOUNT}/workers/workers")], "the listing alone"
    assert not [c for c in _pulumi_calls() if c["argv"][0] == "refresh"]
    assert "scope staging: nothing" in err
    for command in ("preflight", "canary"):
        before = len(api.calls)
        code, out, _ = cli(project, command, "--stack", "staging", "--scope", str(project / "scope.json"))
        assert code == 0, out
        assert len(api.calls) == before, f"{command} read something on a no-op merge"


@pytest.mark.usefixtures("pulumi_log")
def test_a_store_rotation_reads_the_store_secret_and_no_worker(api, project, tmp_path,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    seed_healthy(api, "staging", "store")
    _pin_store(project)
    _stand_in(tmp_path, monkeypatch, _record(api), _steps((STORE_SECRET_TYPE, store_secret_resource("OPENAI_API_KEY"))))
    assert cli(project, "scope", "--stack", "staging", "--output", str(project / "scope.json"))[0] == 0
    scope = Scope.from_json(json.loads((project / "scope.json").read_text()))
    assert (scope.full, scope.workers, scope.store_secrets) == (False, (), ("OPENAI_API_KEY",))
    for command in ("preflight", "canary"):
        before = len(api.calls)
        code, out, _ = cli(project, command, "--stack", "staging", "--scope", str(project / "scope.json"))
        assert code == 0, out
        assert _worker_reads(api, before) == set(), f"{command} read a Worker for a store rotation"
        assert 1 <= len(api.calls) - before <= 3  # the store's secrets (and for preflight the stores, the quota)


@pytest.mark.usefixtures("pulumi_log")
def test_a_run_that_writes_a_worker_preflights_it_and_canaries_every_deployed_version(  # type: ignore[no-untyped-def]
        api, project, tmp_path, monkeypatch) -> None:
    state = seed_healthy(api, "staging", "store")
    _pin_store(project)
    target = state.workers[0].script_name
    script = api.scripts[(ACCOUNT, target)]
    served = script.latest
    twin = api.upload_version(ACCOUNT, target, bindings=served.bindings)
    script.deploy([(served.id, 60.0), (twin.id, 40.0)])  # a gradual rollout: two versions serve
    _stand_in(tmp_path, monkeypatch, _record(api), _steps((BINDINGS_TYPE, target)))
    assert cli(project, "scope", "--stack", "staging", "--output", str(project / "scope.json"))[0] == 0
    before = len(api.calls)
    code, out, _ = cli(project, "preflight", "--stack", "staging", "--scope", str(project / "scope.json"))
    assert code == 0, out
    assert _worker_reads(api, before) == {target} and f"Worker {state.workers[0].worker}" in out
    before = len(api.calls)
    code, out, _ = cli(project, "canary", "--stack", "staging", "--scope", str(project / "scope.json"))
    assert code == 0, out
    assert _worker_reads(api, before) == {target}
    assert f"{target}: versions in flight" in out and "each deployed version is checked" in out


def test_a_worker_deployed_by_hand_is_found_by_the_listing_and_repaired_by_the_next_apply(  # type: ignore[no-untyped-def]
        fake: FakeCloudflare, host: ProviderHost) -> None:
    for script in ("w", "v"):
        fake.add_script(ACCOUNT, script, UNMANAGED)
    seed_store(fake, ["A", "B"])
    states = {script: host.up(script, None, store_props(script, ["A", "B"]))[0] for script in ("w", "v")}
    live = LiveAccount(ACCOUNT, make_client("t", fake.base_url))
    record = {script: state["served_as_of"] for script, state in states.items()}
    assert all(record.values()), "every write records what it deployed"
    assert drifted(record, live.deployed_on(), ["w", "v"]) == [], "the plane's own writes are not drift"
    # Later, a `wrangler deploy` of w from a config that lacks the store binding B.
    fake.now = "2026-11-21T09:00:00Z"
    fake.deploy(ACCOUNT, "w", [*UNMANAGED, *[b for b in fake.scripts[(ACCOUNT, "w")].latest.bindings
                                              if b["name"] == "A"]])
    assert "B" not in fake.bindings(ACCOUNT, "w")
    assert drifted(record, live.deployed_on(oldest(record, ["w", "v"])), ["w", "v"]) == ["w"], "found by the listing"
    # The targeted refresh reads w, the apply repairs it, and records what it deployed.
    state = states["w"]
    _, outs = host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    outs.pop("__provider", None)
    assert "B" not in {b["name"] for b in outs["bindings"]}
    repaired, action = host.up("w", {**outs, "_id": state["_id"]}, store_props("w", ["A", "B"]))
    assert action == "update" and fake.bindings(ACCOUNT, "w")["B"]["secret_name"] == "B_STAGING"
    record["w"] = repaired["served_as_of"]
    assert drifted(record, live.deployed_on(), ["w", "v"]) == []


def test_the_listing_reads_newest_deployment_first_and_stops_at_the_oldest_record(fake: FakeCloudflare) -> None:
    scripts = [f"w{i:03d}" for i in range(250)]
    for script in scripts:
        fake.add_script(ACCOUNT, script, UNMANAGED)
    record = {name: script.deployments[-1].created_on for (_, name), script in fake.scripts.items()}
    live = LiveAccount(ACCOUNT, make_client("t", fake.base_url))
    before = len(fake.calls)
    assert drifted(record, live.deployed_on(oldest(record, scripts)), scripts) == []
    assert len(fake.calls) - before == 1, "one page reaches back to the oldest record"
    fake.now = "2026-11-21T09:00:00Z"
    fake.deploy(ACCOUNT, "w123", UNMANAGED)
    before = len(fake.calls)
    assert drifted(record, live.deployed_on(oldest(record, scripts)), scripts) == ["w123"]
    assert len(fake.calls) - before == 1
    assert drifted(record, live.deployed_on(), scripts) == ["w123"], "the whole listing says the same"
    assert fake.requests[-1].query.get("order_by") is None and len(fake.calls) - before == 4  # 3 pages


def test_the_listing_stops_where_the_last_applied_run_listed_whatever_the_number_of_workers(  # type: ignore[no-untyped-def]
        fake: FakeCloudflare) -> None:
    scripts = [f"w{i:03d}" for i in range(250)]
    for script in scripts:  # deployed one after another, over years: the oldest record reaches back to the first
        fake.add_script(ACCOUNT, script, UNMANAGED)
        fake.deploy(ACCOUNT, script, UNMANAGED)
    record = {name: script.deployments[-1].created_on for (_, name), script in fake.scripts.items()}
    live = LiveAccount(ACCOUNT, make_client("t", fake.base_url))
    before = len(fake.calls)
    listing = live.deployed_on(oldest(record, scripts))
    assert len(fake.calls) - before == 3, "back to the oldest record: every page"
    reached = newest(listing)
    assert reached == record["w249"]
    assert cutoff(record, reached, scripts) == reached and cutoff(record, None, scripts) == oldest(record, scripts)
    before = len(fake.calls)
    assert drifted(record, live.deployed_on(cutoff(record, reached, scripts)), scripts) == []
    assert len(fake.calls) - before == 1, "back to where the last run listed: one page"
    fake.deploy(ACCOUNT, "w007", UNMANAGED)  # a `wrangler deploy` of an old Worker, after that run
    before = len(fake.calls)
    assert drifted(record, live.deployed_on(cutoff(record, reached, scripts)), scripts) == ["w007"]
    assert len(fake.calls) - before == 1
    assert cutoff(record, "not a time", scripts) == oldest(record, scripts), "an unreadable record reads further back"


@pytest.mark.usefixtures("pulumi_log")
@pytest.mark.parametrize("refresh", [True, False])
def test_the_scope_file_vouches_for_its_listing_only_when_every_drifted_worker_was_refreshed(  # type: ignore[no-untyped-def]
        api, project, tmp_path, monkeypatch, refresh: bool) -> None:
    state = seed_healthy(api, "staging", "store")
    _pin_store(project)
    record = _record(api)
    for i in range(150):  # Workers the plane does not manage, deployed before the last applied run listed
        api.add_script(ACCOUNT, f"other-{i:03d}", UNMANAGED)
        api.deploy(ACCOUNT, f"other-{i:03d}", UNMANAGED)
    outputs = {**record, "listed_as_of": api.scripts[(ACCOUNT, "other-149")].deployments[-1].created_on}
    target = state.workers[0].script_name
    api.now = "2026-11-21T09:00:00Z"
    api.deploy(ACCOUNT, target, api.scripts[(ACCOUNT, target)].latest.bindings)  # drift since the last run
    _stand_in(tmp_path, monkeypatch, outputs, _steps())
    before = len(api.calls)
    code, _, err = cli(project, "scope", "--stack", "staging", "--output", str(project / "scope.json"),
                       *([] if refresh else ["--no-refresh"]))
    assert code == 0, err
    assert api.calls[before:] == [("GET", f"/accounts/{ACCOUNT}/workers/workers")], \
        "one page: back to where the last applied run listed, not to the oldest record"
    scope = Scope.from_json(json.loads((project / "scope.json").read_text()))
    assert scope.drifted == (target,)
    assert scope.listed_as_of == ("2026-11-21T09:00:00Z" if refresh else None)
    refreshed = [c["argv"] for c in _pulumi_calls() if c["argv"][0] == "refresh"]
    assert bool(refreshed) == refresh


def test_the_apply_records_how_far_its_scope_listed(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from conftest import ROOT, stack_config

    from stacks.resources.offline import run_program
    path = tmp_path / "scope.json"
    path.write_text(json.dumps(Scope(False, "", listed_as_of="2026-11-21T09:00:00Z").as_json()))
    for env, expected in ((str(path), "2026-11-21T09:00:00Z"), (str(tmp_path / "missing.json"), None), (None, None)):
        if env is None:
            monkeypatch.delenv(SCOPE_FILE_ENV, raising=False)
        else:
            monkeypatch.setenv(SCOPE_FILE_ENV, env)
        result = run_program(ROOT, "staging", stack_config("staging", backend="legacy"), ["secrets-plane:values"])
        assert result.outputs["listed_as_of"] == expected
    path.write_text('{"full": false, "listed_as_of": "yesterday"}')
    monkeypatch.setenv(SCOPE_FILE_ENV, str(path))
    result = run_program(ROOT, "staging", stack_config("staging", backend="legacy"), ["secrets-plane:values"])
    assert result.outputs["listed_as_of"] is None, "a scope file that is not one records nothing"


# ---- the canary after a write: what the write read back is not read again ------------------------

def _store_desired(scripts: list[str], secrets: list[str], secret_name: str = "{}_STAGING") -> Any:
    from stacks.core.desired_state import STORE, Binding, DesiredState, StoreRef, StoreSecret, WorkerState

    return DesiredState(
        "staging", ACCOUNT, "store", "digest", StoreRef("adopt", STORE_ID),
        tuple(StoreSecret(s, secret_name.format(s), ("workers",), "") for s in secrets),
        tuple(WorkerState(f"worker-{script}", script, tuple(Binding(s, s, STORE, secret_name.format(s))
                                                              for s in secrets)) for script in scripts))


def _worker_calls(fake: FakeCloudflare, since: int) -> list[str]:
    """What the calls since `since` read of each Worker: `deployments` or `versions`."""
    return sorted(f"{path.split('/')[-2]}:{path.rsplit('/', 1)[1]}"
                  for method, path in fake.calls[since:] if method == "GET" and path.endswith(("/deployments", "/versions")))


def test_a_settings_write_records_the_version_it_read_back_and_a_race_records_none(  # type: ignore[no-untyped-def]
        fake: FakeCloudflare, host: ProviderHost) -> None:
    from stacks.core.verified import bindings_digest

    for script in ("w", "v"):
        fake.add_script(ACCOUNT, script, UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    served = fake.scripts[(ACCOUNT, "w")].deployment
    assert served is not None and served.versions == [{"version_id": state["verified"]["version"], "percentage": 100.0}], "what serves"
    live = {b["name"]: b for b in fake.scripts[(ACCOUNT, "w")].latest.bindings}
    assert state["verified"]["digest"] == bindings_digest(live, ["A", "B"])
    assert state["verified"]["unmanaged_secrets"] == {"SENTRY_DSN": "secret_text"}
    # A deploy between the provider's read and its write: the run cannot vouch for what serves.
    fake.now = None

    def deploy(account: str, script: str) -> None:
        fake.deploy(account, script, [*fake.scripts[(account, script)].bindings,
                                      {"type": "r2_bucket", "name": "UPLOADS", "bucket_name": "up"}])

    fake.before_settings_write = deploy
    raced, _ = host.up("v", None, store_props("v", ["A", "B"]))
    assert raced.get("verified") is None and "UPLOADS" in fake.bindings(ACCOUNT, "v"), "restored, and not vouched for"


def test_the_canary_reads_only_the_deployment_of_a_worker_serving_what_its_write_read_back(  # type: ignore[no-untyped-def]
        fake: FakeCloudflare, host: ProviderHost) -> None:
    from stacks.core.verified import verified_of
    from stacks.live.canary import run_canary

    scripts = ["w", "v"]
    for script in scripts:
        fake.add_script(ACCOUNT, script, UNMANAGED)
    seed_store(fake, ["A", "B"])
    states = {script: host.up(script, None, store_props(script, ["A", "B"]))[0] for script in scripts}
    verified = verified_of({"verified": {script: st["verified"] for script, st in states.items()}})
    scope = Scope(False, workers=tuple(scripts))
    desired_state = _store_desired(scripts, ["A", "B"])

    def canary(record: Any, want: Any = desired_state) -> tuple[Any, list[str]]:
        before = len(fake.calls)
        report = run_canary(want, _live(fake), {}, wait_s=0, scope=scope, verified=record)
        return report, _worker_calls(fake, before)

    report, reads = canary(verified)
    assert report.ok, report.mismatches
    assert reads == ["v:deployments", "w:deployments"], "one read per written Worker: what serves"
    assert any("'SENTRY_DSN' is not in the manifest" in note for note in report.notes), "the same notes"
    full, reads = canary(None)
    assert full.ok and reads == ["v:deployments", "v:versions", "w:deployments", "w:versions"]
    assert full.checked == report.checked and full.notes == report.notes, "the record gives the same report"
    # A `wrangler deploy` of w that drops store binding B: another version serves, read whole.
    fake.deploy(ACCOUNT, "w", [b for b in fake.scripts[(ACCOUNT, "w")].bindings if b["name"] != "B"])
    report, reads = canary(verified)
    assert reads == ["v:deployments", "w:deployments", "w:versions"]
    assert [(m.worker, m.binding, m.found) for m in report.mismatches] == [("w", "B", "absent")]
    # A manifest that wants other store secrets than the record holds: read whole, and found wrong.
    report, reads = canary(verified, _store_desired(scripts, ["A", "B"], "{}_PROD"))
    assert "v:versions" in reads and {m.worker for m in report.mismatches} >= {"w", "v"}


@pytest.mark.usefixtures("pulumi_log")
def test_the_canary_of_a_scoped_run_takes_the_record_from_the_stack_outputs(  # type: ignore[no-untyped-def]
        api, project, tmp_path, monkeypatch) -> None:
    from stacks.api.workers import public
    from stacks.core.verified import verify

    state = seed_healthy(api, "staging", "store")
    _pin_store(project)
    target = state.workers[0]
    latest = api.scripts[(ACCOUNT, target.script_name)].latest
    record = verify(latest.id, {b["name"]: public(b) for b in latest.bindings}, [b.name for b in target.bindings])
    scope = project / "scope.json"
    for outputs, read in (({**_record(api), "verified": {target.script_name: record.as_json()}}, {"deployments"}),
                          (_record(api), {"deployments", "versions"})):
        _stand_in(tmp_path, monkeypatch, outputs, _steps((BINDINGS_TYPE, target.script_name)))
        assert cli(project, "scope", "--stack", "staging", "--output", str(scope), "--force")[0] == 0
        before = len(api.calls)
        code, out, err = cli(project, "canary", "--stack", "staging", "--scope", str(scope))
        assert code == 0, out + err
        assert {path.rsplit("/", 1)[1] for _, path in api.calls[before:] if f"/{target.script_name}/" in path} == read
    assert ["stack", "output", "--json", "--stack", "staging"] in [c["argv"] for c in _pulumi_calls()]


def test_a_deploy_that_raced_the_write_and_lost_nothing_is_still_not_vouched_for(  # type: ignore[no-untyped-def]
        fake: FakeCloudflare, host: ProviderHost) -> None:
    """The race check's rule: a record only when no version came between the read and the write."""
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    seed_store(fake, ["A"])
    fake.now = None

    def deploy(account: str, script: str) -> None:
        fake.deploy(account, script, [dict(b, namespace_id="kv2") if b["name"] == "CACHE" else b
                                      for b in fake.scripts[(account, script)].bindings])

    fake.before_settings_write = deploy
    state, _ = host.up("w", None, store_props("w", ["A"]))
    assert fake.bindings(ACCOUNT, "w")["CACHE"]["namespace_id"] == "kv2", "the racing deploy kept"
    assert state.get("verified") is None
