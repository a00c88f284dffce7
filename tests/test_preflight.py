"""`preflight --stack S` against the fake API: every blocker `pulumi up` would meet halfway, found
before it runs with read-only calls at their stated bound, and the healthy account; canary values
planted in store secrets and Worker secrets never reach the output."""

from __future__ import annotations

import io
import json
import socket
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES, STORE_ID, canary, leak_scan
from fake_cloudflare import FakeCloudflare, RateLimit, StoreSecret
from live_states import seed_healthy

from stacks.cli import main
from stacks.core.estate import load_estate

OTHER_STORE = "ffeeddccbbaa99887766554433221100"


def cli(project: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    assert CANARY_PREFIX not in leak_scan(out.getvalue() + err.getvalue())
    return code, out.getvalue(), err.getvalue()


def pin(project: Path, stack: str, **settings: Any) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"].update({f"secrets-plane:{k}": v for k, v in settings.items()})
    path.write_text(yaml.safe_dump(data))


def edit(project: Path, change: Any) -> None:
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def healthy(fake: FakeCloudflare, project: Path, stack: str = "staging", backend: str = "store") -> None:
    """The stack's desired state live, with canary values in every store secret and Worker secret."""
    state = seed_healthy(fake, stack, backend, project)
    for secret in fake.store_secrets[STORE_ID].values():
        secret.value = canary(secret.name)
    for worker in state.workers:
        script = fake.scripts[(ACCOUNT, worker.script_name)]
        script.bindings = [{**b, "text": canary(b["name"])} if b["type"] == "secret_text" else b
                           for b in script.bindings]


def preflight(project: Path, stack: str = "staging", fmt: str = "json") -> tuple[int, dict[str, Any] | str]:
    code, out, err = cli(project, "preflight", "--stack", stack, "--format", fmt)
    assert "Traceback" not in err
    return code, json.loads(out) if fmt == "json" else out


def blockers(report: dict[str, Any]) -> list[str]:
    return [f"{b['subject']}: {b['message']}" for b in report["blockers"]]


def test_a_healthy_account_passes_with_the_stated_calls(api, project) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store")
    healthy(api, project)
    code, report = preflight(project)
    assert code == 0 and report["ok"] and report["blockers"] == []
    assert report["quota"] == {"quota": 100, "usage": 25, "creates": 0, "not_this_stack": 0, "source": "quota endpoint"}
    workers = report["workers"]
    # The scripts; the stores and the store's secrets (one page of 100 each, no empty page after it);
    # the quota: 4. Then 2 per Worker.
    assert workers == 5 and report["calls"] == 4 + 2 * workers
    assert api.count("PATCH") + api.count("POST") + api.count("PUT") + api.count("DELETE") == 0, "read-only"
    code, text = preflight(project, fmt="text")
    assert text.splitlines()[0] == ("preflight staging (account 5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b): ok, 1 notice(s); 5 "
                                    "Worker(s) and 25 store secret(s) checked in 14 read-only API call(s)")


def test_a_legacy_stack_reads_no_store(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    code, report = preflight(project, "prod")
    assert code == 0 and report["calls"] == 1 + 2 * 3 and report["quota"] is None


def test_an_adopted_store_that_does_not_exist(api, project) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store", store={"adopt": OTHER_STORE})
    healthy(api, project)
    code, report = preflight(project)
    assert code == 1
    (block,) = [b for b in report["blockers"] if b["subject"] == "store"]
    assert block["message"] == (f"the adopted store {OTHER_STORE} does not exist in account {ACCOUNT} (it has "
                                f"{STORE_ID} ('ascend'))")
    assert block["fix"] == f"adopt the account's store: secrets-plane:store: {{adopt: {STORE_ID}}}"


def test_a_store_to_create_on_an_account_that_has_one(api, project) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store", store={"create": "ascend-staging"})
    healthy(api, project)
    code, report = preflight(project)
    assert code == 1
    assert "store: the stack creates store 'ascend-staging', but account 5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b already has " \
           f"store {STORE_ID} ('ascend') and Cloudflare allows one per account" in blockers(report)


def test_the_quota_counts_secrets_no_stack_manages(api, project) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store")
    healthy(api, project)
    mine = list(api.store_secrets[STORE_ID])
    for sid in mine[:10]:
        del api.store_secrets[STORE_ID][sid]  # ten of the stack's secrets still to create
    for i in range(70):
        api.add_store_secret(STORE_ID, StoreSecret(id=f"other{i}", name=f"HAND_MADE_{i}", scopes=["workers"]))
    code, report = preflight(project)
    assert code == 0
    assert report["quota"] == {"quota": 100, "usage": 85, "creates": 10, "not_this_stack": 70,
                               "source": "quota endpoint"}
    assert "quota: the apply creates 10 store secret(s), but the account uses 85 of its 100 (70 of them not this " \
           "stack's), so 15 fit (from the quota endpoint)" not in blockers(report), "15 is room enough"
    for i in range(70, 80):
        api.add_store_secret(STORE_ID, StoreSecret(id=f"other{i}", name=f"HAND_MADE_{i}", scopes=["workers"]))
    code, report = preflight(project)
    assert code == 1
    assert "quota: the apply creates 10 store secret(s), but the account uses 95 of its 100 (80 of them not this " \
           "stack's), so 5 fit (from the quota endpoint)" in blockers(report)


def test_without_the_quota_endpoint_it_counts_the_listing_and_says_so(api, project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store")
    healthy(api, project)
    real = api._store_route

    def no_quota(method, path, query, body):  # type: ignore[no-untyped-def]
        if path.endswith("/secrets_store/quota"):
            from fake_cloudflare import ApiError

            raise ApiError(404, 7003, "No route for that URI")
        return real(method, path, query, body)

    monkeypatch.setattr(api, "_store_route", no_quota)
    code, report = preflight(project)
    assert code == 0 and report["quota"]["source"] == "store listing (the quota endpoint is not there)"


def test_a_store_secret_made_by_hand_says_to_adopt_it(api, project) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store")
    healthy(api, project)
    hand = next(s for s in api.store_secrets[STORE_ID].values() if s.name == "OPENAI_API_KEY_STAGING")
    hand.comment = "made in the dashboard"
    code, report = preflight(project)
    assert code == 1
    (block,) = report["blockers"]
    assert block["subject"] == "store secret OPENAI_API_KEY_STAGING"
    assert block["fix"].startswith("bring it under the program: python -m stacks adopt-store --stack staging")


def test_missing_external_secrets_in_the_store_and_on_a_worker(api, project) -> None:  # type: ignore[no-untyped-def]
    edit(project, lambda d: (d["secrets"]["SLACK_SIGNING_SECRET"].update(external=True, backend="store"),
                             d["secrets"]["GONG_ACCESS_KEY"].update(external=True, backend="legacy")))
    pin(project, "staging", backend="store")
    healthy(api, project)
    store = api.store_secrets[STORE_ID]
    del store[next(sid for sid, s in store.items() if s.name == "SLACK_SIGNING_SECRET_STAGING")]
    script = api.scripts[(ACCOUNT, "ascend-v5-staging")]
    script.bindings = [b for b in script.bindings if b["name"] != "GONG_ACCESS_KEY"]
    code, report = preflight(project)
    assert code == 1
    assert blockers(report) == [
        f"external secret SLACK_SIGNING_SECRET: must already exist in store {STORE_ID} as SLACK_SIGNING_SECRET_STAGING, "
        "and it does not",
        "Worker api (script ascend-v5-staging): external secret GONG_ACCESS_KEY must already be set on it as "
        "GONG_ACCESS_KEY"]
    assert report["blockers"][1]["fix"] == ("set it: wrangler secret put GONG_ACCESS_KEY --name ascend-v5-staging "
                                            "(wrangler asks for the value)")


def test_a_worker_that_does_not_exist(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    del api.scripts[(ACCOUNT, "ascend-context")]
    code, report = preflight(project, "prod")
    assert code == 1
    (block,) = report["blockers"]
    assert block["message"] == f"script 'ascend-context' does not exist in account {ACCOUNT}"
    assert report["calls"] == 1 + 2 * 2, "a missing script is not read"


def test_a_missing_script_is_never_guessed_as_another_stacks(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "staging", "legacy")
    healthy(api, project, "prod", "legacy")
    del api.scripts[(ACCOUNT, "ascend-v5")]
    code, report = preflight(project, "prod")
    assert code == 1
    (block,) = report["blockers"]
    assert block["message"] == f"script 'ascend-v5' does not exist in account {ACCOUNT}"
    staging = {w.script_name for w in load_estate(project).desired_state("staging").workers}
    prod = {w.script_name for w in load_estate(project).desired_state("prod").workers}
    assert not any(f"'{script}'" in block["fix"] for script in staging - prod), "staging's scripts are not prod's"
    api.scripts[(ACCOUNT, "ascend-v5x")] = api.scripts[(ACCOUNT, "ascend-context")]
    (block,) = preflight(project, "prod")[1]["blockers"]  # type: ignore[index]
    assert "did you mean 'ascend-v5x'?" in block["fix"], "a script no other stack binds is still proposed"


def test_a_managed_name_taken_by_another_kind_of_binding(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    script = api.scripts[(ACCOUNT, "ascend-v5")]
    script.bindings = [b for b in script.bindings if b["name"] != "OPENAI_API_KEY"] + [
        {"type": "kv_namespace", "name": "OPENAI_API_KEY", "namespace_id": "kv9"}]
    code, report = preflight(project, "prod")
    assert code == 1
    assert blockers(report) == ["Worker api (script ascend-v5): binding name 'OPENAI_API_KEY' is taken by a kv_namespace "
                                "binding the plane does not manage: the write is refused before anything is written"]


def test_the_variable_limit_counts_the_workers_own_vars(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    script = api.scripts[(ACCOUNT, "ascend-v5")]
    script.bindings = script.bindings + [{"type": "plain_text", "name": f"VAR_{i}", "text": "v"} for i in range(109)]
    code, report = preflight(project, "prod")
    assert code == 1
    assert blockers(report) == ["Worker api (script ascend-v5): would hold 129 environment variables (19 secret_text of "
                                "the plane + 110 vars and secrets already on the Worker), over the Workers limit of 128"]


def test_an_undeployed_upload_is_announced_with_what_the_write_does_to_it(api, project) -> None:  # type: ignore[no-untyped-def]
    """The latest version is an upload nobody deployed: preflight names it and who uploaded it, and
    says the write goes to what serves and leaves the upload without the change."""
    healthy(api, project, "prod", "legacy")
    served = api.scripts[(ACCOUNT, "ascend-v5")].latest.id
    upload = api.upload_version(ACCOUNT, "ascend-v5")
    code, report = preflight(project, "prod")
    assert code == 0
    (note,) = [n for n in report["notices"] if n["subject"].startswith("Worker api")]
    assert note["message"].startswith(f"versions in flight ({served} at 100%); the latest version {upload.id} "
                                      f"(uploaded by ci@example.com at {upload.created_on}) serves no traffic: the write "
                                      "leaves it as it is, and it will not carry the change if it is deployed later")
    assert "the write will copy each served version" in note["message"]


def test_a_served_version_the_write_cannot_copy_is_said_before_the_apply(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    script = api.scripts[(ACCOUNT, "ascend-v5")]
    script.latest.runtime["assets"] = {"config": {"html_handling": "none"}}
    api.upload_version(ACCOUNT, "ascend-v5", runtime={})
    code, report = preflight(project, "prod")
    (note,) = [n for n in report["notices"] if n["subject"].startswith("Worker api")]
    assert "the write will be refused, nothing written" in note["message"]
    assert f"version {script.history[-2].id}: static assets (`assets`)" in note["message"]
    assert "wrangler versions deploy" in note["fix"]


def test_versions_in_flight_are_a_notice_saying_how_the_write_goes(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    script = api.scripts[(ACCOUNT, "ascend-v5")]
    old = script.latest.id
    new = api.upload_version(ACCOUNT, "ascend-v5")
    script.deploy([(new.id, 10.0), (old, 90.0)])
    code, report = preflight(project, "prod")
    assert code == 0, "a notice, not a blocker"
    (note,) = [n for n in report["notices"] if n["subject"].startswith("Worker api")]
    assert note["message"] == (f"versions in flight ({new.id} at 10%, {old} at 90%): the write will copy each served "
                               "version with the change (its code and settings kept) and deploy the copies at the same "
                               "split; a version uploaded but not deployed is never copied or deployed")


@pytest.mark.parametrize("denied,words", [(r"/workers/", "Workers Scripts Read"), (r"/secrets_store/", "Secrets Store Read")])
def test_a_refused_read_names_the_permission(api, project, denied, words) -> None:  # type: ignore[no-untyped-def]
    pin(project, "staging", backend="store")
    healthy(api, project)
    api.denied_paths.append(denied)
    code, report = preflight(project)
    assert code == 1
    (block,) = [b for b in report["blockers"] if b["subject"] == "token"]
    assert words in block["fix"]


def test_a_refused_token_fails_after_its_first_call(api, project) -> None:  # type: ignore[no-untyped-def]
    healthy(api, project, "prod", "legacy")
    api.denied_token = "test-token"
    code, out, err = cli(project, "preflight", "--stack", "prod")
    assert code == 1 and out.startswith("preflight prod") and "the API token may not read" in out
    assert len(api.calls) <= 1 + 2 * 3, "no retries of a refusal"


def test_an_unreachable_api_is_said_after_one_attempt(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A base URL nobody answers on: one connection attempt, then the error (no silent backoff)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    attempts = []

    def refuse() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            attempts.append(1)
            conn.close()  # a connection cut before any answer

    threading.Thread(target=refuse, daemon=True).start()
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "test-token")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", f"http://127.0.0.1:{listener.getsockname()[1]}/client/v4")
    try:
        code, out, err = cli(project, "canary", "--stack", "prod")
    finally:
        listener.close()
    assert code == 1 and "could not reach the Cloudflare API at http://127.0.0.1:" in err
    assert "nothing was retried" in err and len(attempts) == 1


def test_waits_are_one_line_each_in_a_log_and_progress_on_a_terminal(api, project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from stacks.api import ratelimit
    from stacks.core.estate import load_estate
    from stacks.live.account import LiveAccount
    from stacks.live.preflight import run_preflight
    from stacks.live.progress import Progress

    monkeypatch.setattr(ratelimit, "PACER", ratelimit.Pacer())
    monkeypatch.setattr("stacks.live.progress.PACER", ratelimit.PACER)
    monkeypatch.setenv("SECRETS_PLANE_RATE_RESERVE", "2")
    healthy(api, project, "prod", "legacy")
    estate = load_estate(project)
    desired = estate.desired_state("prod")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream in (io.StringIO(), Terminal()):
        api.ratelimit = RateLimit(quota=5, window_s=2)
        with Progress("preflight prod", len(desired.workers), stream) as progress:
            run_preflight(estate.manifest.manifest, desired, LiveAccount(ACCOUNT), progress.step)
        text = stream.getvalue()
        waits = [line for line in text.replace("\r\033[K", "\n").splitlines() if "waiting for the window" in line]
        assert waits, text
        assert all(line.startswith("preflight prod: ") and "calls left in Cloudflare's API window ('default')" in line
                   for line in waits)
        if isinstance(stream, Terminal):
            assert "preflight prod: 3/3 ascend-scheduler" in text and text.endswith("\r\033[K"), "the line is cleared"
        else:
            assert text.count("\n") == len(waits), "one line per wait and nothing else"
    FIGURES["leak_paths_scanned"] += 0
