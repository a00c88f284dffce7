"""`diff --base REF`, as CI runs it: a git history with each change committed and a clean tree,
the base read from REF. Every input that changes where a binding points is reported (stack files
included), counts are exact, and "no change" means no input changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ACCOUNT, ROOT, STORE_ID, golden

from stacks.core.changes import SettingChange, StackChanges, WorkerChange

OTHER_ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER_STORE = "ffeeddccbbaa99887766554433221100"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}).stdout


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stacks", *args], cwd=project, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def repo(project: Path) -> Path:
    """The shipped project as the first commit of a repository on `main`."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    return project


def edit_manifest(project: Path, change: Any) -> None:
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def edit_stack(project: Path, stack: str, **settings: Any) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in settings.items():
        full = f"secrets-plane:{key}"
        if value is None:
            data["config"].pop(full, None)
        else:
            data["config"][full] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def commit(project: Path, message: str = "change") -> None:
    git(project, "commit", "-q", "-am", message)
    assert git(project, "status", "--porcelain") == "", "a clean tree, as CI checks it out"


def diff(project: Path, *args: str, fmt: str = "json") -> Any:
    proc = cli(project, "diff", "--base", "HEAD~1", "--format", fmt, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if fmt == "json" else proc.stdout


def stack_of(result: dict[str, Any], stack: str) -> dict[str, Any]:
    return next(s for s in result["stacks"] if s["stack"] == stack)


def workers_of(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["worker"]: w for w in stack["workers"]}


def test_a_committed_change_is_diffed_against_the_base_not_itself(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["workers"]["scheduler"]["secrets"].remove("SLACK_BOT_TOKEN"))
    commit(repo)
    staging = stack_of(diff(repo), "staging")
    assert workers_of(staging)["scheduler"]["removed"] == ["SLACK_BOT_TOKEN"]
    assert not staging["empty"]
    same = cli(repo, "diff", "--base", "HEAD")
    assert same.returncode == 0 and same.stdout.splitlines() == ["stack prod: no change", "stack staging: no change"]


def test_the_account_and_store_of_a_stack_file_move_every_binding(repo: Path) -> None:
    """The finding: prod's accountId and adopted store changed; the diff said "no change"."""
    edit_manifest(repo, lambda d: d["workers"]["dev"].update(backend="store"))
    commit(repo, "dev on the store")
    edit_stack(repo, "prod", accountId=OTHER_ACCOUNT, store={"adopt": OTHER_STORE}, backend="store")
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    settings = {s["key"]: s for s in prod["settings"]}
    assert settings["secrets-plane:accountId"]["before"] == ACCOUNT
    assert settings["secrets-plane:accountId"]["after"] == OTHER_ACCOUNT
    assert settings["secrets-plane:store"]["after"] == f"adopt {OTHER_STORE}"
    assert prod["store"] == f"adopts store {OTHER_STORE} in account {OTHER_ACCOUNT} (read-only: looked up, never " \
                            "changed or deleted)"
    workers = workers_of(prod)
    assert set(workers) == {"api", "scheduler", "context"} and {w["status"] for w in workers.values()} == {"moved"}
    assert all(w["versions"] == 2 for w in workers.values()), "written in the new account, removed from the old"
    assert f"OPENAI_API_KEY (store {OTHER_STORE}/OPENAI_API_KEY) in account {OTHER_ACCOUNT}" in workers["api"]["added"]
    assert len(prod["store_created"]) == 25 and prod["store_deleted"] == [], "every store secret made in the new store"
    assert (prod["writes"], prod["versions"]) == (6, 6)


def test_a_store_repointed_within_the_account_is_reported_per_binding(repo: Path) -> None:
    edit_stack(repo, "staging", backend="store")
    commit(repo, "staging on the store")
    edit_stack(repo, "staging", store={"adopt": OTHER_STORE})
    commit(repo)
    staging = stack_of(diff(repo, "--stack", "staging"), "staging")
    api = workers_of(staging)["api"]
    assert api["status"] == "changed" and api["write"] == "settings" and api["versions"] == 1
    assert f"OPENAI_API_KEY: store {STORE_ID}/OPENAI_API_KEY_STAGING -> store {OTHER_STORE}/OPENAI_API_KEY_STAGING" \
        in api["repointed"]
    assert len(staging["store_created"]) == 25, "the new store holds none of them yet"


def test_a_store_the_stack_creates_is_announced(repo: Path) -> None:
    edit_stack(repo, "staging", backend="store", store={"create": "ascend-staging"})
    commit(repo)
    text = diff(repo, "--stack", "staging", fmt="text")
    assert f"  store: creates store 'ascend-staging' in account {ACCOUNT} (protected, never deleted; Cloudflare " \
           "allows one store per account)" in text
    assert "  setting secrets-plane:store: adopt 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e -> create 'ascend-staging': " in text


def test_the_secret_name_rule_renames_every_store_secret(repo: Path) -> None:
    edit_stack(repo, "staging", backend="store")
    commit(repo, "staging on the store")
    edit_stack(repo, "staging", secretName="{name}_STG")
    commit(repo)
    staging = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert "OPENAI_API_KEY_STG" in staging["store_created"] and "OPENAI_API_KEY_STAGING" in staging["store_deleted"]
    assert f"OPENAI_API_KEY: store {STORE_ID}/OPENAI_API_KEY_STAGING -> store {STORE_ID}/OPENAI_API_KEY_STG" in \
        workers_of(staging)["api"]["repointed"]
    assert [s["key"] for s in staging["settings"]] == ["secrets-plane:secretName"]


def test_a_binding_repointed_to_another_secret_is_seen(repo: Path) -> None:
    """A rename now reads another secret: same binding name, same type, another store secret."""
    edit_stack(repo, "staging", backend="store")
    commit(repo, "staging on the store")

    def repoint(d: dict[str, Any]) -> None:
        api = d["workers"]["api"]
        api["secrets"] = [s for s in api["secrets"] if s != "GOOGLE_OAUTH_CLIENT_ID"]
        api["bindings"] = {"GOOGLE_OAUTH_CLIENT_ID": "SLACK_BOT_TOKEN"}

    edit_manifest(repo, repoint)
    commit(repo)
    api = workers_of(stack_of(diff(repo, "--stack", "staging"), "staging"))["api"]
    assert api["repointed"] == [f"GOOGLE_OAUTH_CLIENT_ID: store {STORE_ID}/GOOGLE_OAUTH_CLIENT_ID_STAGING -> store "
                                f"{STORE_ID}/SLACK_BOT_TOKEN_STAGING"]
    assert (api["write"], api["versions"]) == ("settings", 1)


def test_a_worker_removed_from_a_stack_is_listed(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["workers"]["context"].update(
        stacks=["staging"], script_name={"staging": d["workers"]["context"]["script_name"]["staging"]}))
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    (context,) = prod["workers"]
    assert (context["worker"], context["status"], context["write"], context["versions"]) == \
           ("context", "removed", "secrets-bulk", 1)


@pytest.mark.parametrize("key,value,words", [
    ("backend", "store", "pinned store; the stack's backend flag is now store"),
    ("promoteFrom", None, "NO promotion gate any more"),
    ("promotionOverride", "INC-7 reason", "the promotion gate is OVERRIDDEN for every apply"),
])
def test_every_setting_of_the_stack_file_is_reported(repo: Path, key: str, value: str | None, words: str) -> None:
    edit_stack(repo, "prod", **{key: value})
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    (setting,) = prod["settings"]
    assert setting["key"] == f"secrets-plane:{key}" and words in setting["effect"]
    assert not prod["empty"]


def test_an_external_secret_moved_to_the_store_must_exist_there(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["secrets"]["SLACK_SIGNING_SECRET"].update(external=True))
    commit(repo, "external")
    edit_stack(repo, "staging", backend="store")
    commit(repo)
    staging = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert "SLACK_SIGNING_SECRET_STAGING" not in staging["store_created"], "never created by the plane"
    (need,) = [e for e in staging["externals"] if e.startswith("SLACK_SIGNING_SECRET:")]
    assert need == (f"SLACK_SIGNING_SECRET: must already exist in store {STORE_ID} as SLACK_SIGNING_SECRET_STAGING "
                    f"(create it: wrangler secrets-store secret create {STORE_ID} --name SLACK_SIGNING_SECRET_STAGING "
                    "--scopes workers --remote)")
    proc = cli(repo, "validate")
    assert "secrets.SLACK_SIGNING_SECRET.external: warning: stack 'staging' binds external secret " \
           "'SLACK_SIGNING_SECRET' through the store (bound by ascend-v5-preview, ascend-v5-staging): it must already " \
           f"exist in store {STORE_ID} as SLACK_SIGNING_SECRET_STAGING, or the apply fails (fix: create it: wrangler " \
           f"secrets-store secret create {STORE_ID} --name SLACK_SIGNING_SECRET_STAGING --scopes workers --remote " \
           "(wrangler asks for the value))" in proc.stderr


def test_a_legacy_external_binding_shows_the_wrangler_command(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["secrets"]["SLACK_SIGNING_SECRET"].update(external=True))
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    assert prod["externals"] == ["SLACK_SIGNING_SECRET: must already exist on Worker ascend-v5 as SLACK_SIGNING_SECRET "
                                 "(create it: wrangler secret put SLACK_SIGNING_SECRET --name ascend-v5)"]


def test_values_set_anew_rotate_exactly_their_holders(repo: Path) -> None:
    def set_values(ciphertext: str) -> None:
        edit_stack(repo, "staging", values={"OPENAI_API_KEY": {"secure": ciphertext}, "SLACK_BOT_TOKEN":
                                            {"secure": "v1:same"}})

    set_values("v1:first")
    commit(repo, "values")
    set_values("v1:second")
    commit(repo)
    staging = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert staging["values_set"] == ["OPENAI_API_KEY"]
    rotated = {w["worker"]: w["rotated"] for w in staging["workers"]}
    assert rotated == {"api": ["OPENAI_API_KEY"], "context": ["OPENAI_API_KEY"], "dev": ["OPENAI_API_KEY"],
                       "preview": ["OPENAI_API_KEY"]}
    assert all(w["write"] == "secrets-bulk" for w in staging["workers"]) and staging["versions"] == 4



@pytest.mark.parametrize("backend", ["store", "legacy"])
def test_a_rotation_with_overlap_and_its_retirement_show_their_writes(repo: Path, backend: str) -> None:
    """`rotate` on an overlap secret changes `values` and adds `previous`; `retire` removes it. The
    diff sees both slots: on the store the two store secrets (no Worker version), on legacy one
    write per holder setting the binding and its _PREVIOUS."""
    hook = "WEBHOOK_SIGNING_SECRET"
    edit_manifest(repo, lambda d: d["secrets"][hook].update(overlap_days=14))
    edit_stack(repo, "staging", values={hook: {"secure": "v1:old"}}, **({"backend": "store"} if backend == "store" else {}))
    commit(repo, "overlap")
    edit_stack(repo, "staging", values={hook: {"secure": "v1:new"}},
               previous={hook: {"value": {"secure": "v1:old-again"}, "retires": "2026-12-21"}})
    commit(repo, "rotate")
    rotated = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert rotated["values_set"] == [hook]
    assert rotated["overlaps"] == [f"{hook}: window opened, the previous value stays readable until 2026-12-21"]
    if backend == "store":
        # The window opens: the previous store secret already holds the old value, one write.
        assert rotated["store_updated"] == [f"{hook}_STAGING: value set anew (no Worker version)"]
        assert rotated["versions"] == 0 and rotated["workers"] == []
    else:
        assert {w["worker"]: w["rotated"] for w in rotated["workers"]} == {
            "api": [hook], "preview": [hook]}
        assert rotated["versions"] == 2
    text = diff(repo, "--stack", "staging", fmt="text")
    assert "overlap WEBHOOK_SIGNING_SECRET: window opened" in text

    edit_stack(repo, "staging", previous=None)
    commit(repo, "retire")
    retired = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert retired["values_set"] == []
    assert retired["overlaps"] == [f"{hook}: window closed, the previous value retires now (_PREVIOUS takes the "
                                   "current one)"]
    if backend == "store":
        assert retired["store_updated"] == [f"{hook}_STAGING_PREVIOUS: value set anew (no Worker version)"]
    else:
        assert {w["worker"]: w["rotated"] for w in retired["workers"]} == {"api": [f"{hook}_PREVIOUS"],
                                                                          "preview": [f"{hook}_PREVIOUS"]}

def test_metadata_alone_is_a_change_and_moves_the_digest(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["secrets"]["OPENAI_API_KEY"].update(owner="ml-platform", rotation_days=30))
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    assert not prod["empty"] and prod["workers"] == [] and prod["versions"] == 0
    assert prod["metadata"] == ["OPENAI_API_KEY: owner ai-platform -> ml-platform",
                                "OPENAI_API_KEY: rotation_days 90 -> 30"]
    assert prod["digest"][0] != prod["digest"][1]


def test_scopes_of_a_store_secret_are_updated_in_place(repo: Path) -> None:
    edit_stack(repo, "staging", backend="store")
    commit(repo, "staging on the store")
    edit_manifest(repo, lambda d: d["secrets"]["HUBSPOT_ACCESS_TOKEN"].update(scopes=["workers", "ai_gateway"]))
    commit(repo)
    staging = stack_of(diff(repo, "--stack", "staging"), "staging")
    assert staging["store_updated"] == ["HUBSPOT_ACCESS_TOKEN_STAGING: scopes workers -> ai_gateway,workers"]
    assert staging["store_created"] == staging["store_deleted"] == [] and staging["versions"] == 0


def test_a_flip_counts_one_settings_write_per_worker(repo: Path) -> None:
    edit_manifest(repo, lambda d: d.update(backend="store"))
    commit(repo)
    result = diff(repo)
    for stack, workers in (("staging", 5), ("prod", 3)):
        s = stack_of(result, stack)
        assert (s["writes"], s["versions"]) == (workers, workers)
        assert all(w["write"] == "settings" for w in s["workers"])
        assert s["backend"] == ["legacy", "store"] and len(s["store_created"]) == 25


def test_a_stack_added_and_a_stack_removed(repo: Path) -> None:
    """prod renamed qa: the diff shows prod's file gone (its resources stay) and qa as new."""
    (repo / "Pulumi.prod.yaml").rename(repo / "Pulumi.qa.yaml")

    def rename(d: dict[str, Any]) -> None:
        for worker in d["workers"].values():
            worker["stacks"] = ["qa" if s == "prod" else s for s in worker["stacks"]]
            if isinstance(worker["script_name"], dict):
                worker["script_name"] = {("qa" if k == "prod" else k): v for k, v in worker["script_name"].items()}

    edit_manifest(repo, rename)
    git(repo, "add", "-A")
    commit(repo)
    result = diff(repo)
    assert stack_of(result, "prod")["status"] == "removed" and stack_of(result, "qa")["status"] == "added"
    text = diff(repo, fmt="text")
    assert "stack prod: its stack file is removed: nothing is applied to it any more, and what it made stays on " \
           "Cloudflare until `pulumi destroy --stack prod`" in text
    assert "stack qa (new): 3 Worker write(s)" in text


def test_text_markdown_and_json_say_the_same(repo: Path) -> None:
    edit_manifest(repo, lambda d: (d["workers"]["dev"].update(backend="store"),
                                   d["workers"]["scheduler"]["secrets"].remove("SLACK_BOT_TOKEN")))
    commit(repo)
    result = stack_of(diff(repo, "--stack", "staging"), "staging")
    text = diff(repo, "--stack", "staging", fmt="text")
    markdown = diff(repo, "--stack", "staging", fmt="markdown")
    assert markdown.startswith("<!-- secrets-plane:diff -->\n### secrets-plane: what this change does to credentials "
                               "(against `HEAD~1`)")
    for w in result["workers"]:
        assert f"Worker {w['worker']} ({w['script']}) {w['status']}: {w['write']} write, {w['versions']} version(s)" in text
        assert f"Worker `{w['worker']}` (`{w['script']}`) {w['status']}: " in markdown
        for name in w["removed"]:
            assert f"    - {name}" in text and f"loses `{name}`" in markdown
    headline = f"{result['writes']} Worker write(s), {result['versions']} Worker version(s)"
    assert headline in text and headline in markdown


def test_a_closed_pipe_is_not_a_traceback(repo: Path) -> None:
    edit_manifest(repo, lambda d: d.update(backend="store"))
    commit(repo)
    proc = subprocess.run(f"{sys.executable} -m stacks diff --base HEAD~1 | head -n 1", shell=True, cwd=repo,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.stdout.startswith("stack prod: ") and proc.stderr == ""



def test_every_kind_of_change_as_a_reviewer_reads_it(repo: Path) -> None:
    """One pull request that changes something of every kind on staging: the text and markdown a
    reviewer reads are checked whole (the golden files were read line by line against the change)."""
    edit_stack(repo, "staging", backend="store", values={"OPENAI_API_KEY": {"secure": "v1:first"},
                                                         "GONG_ACCESS_KEY": {"secure": "v1:gong"}})
    commit(repo, "staging on the store")

    def change(d: dict[str, Any]) -> None:
        d["secrets"]["NEW_BILLING_KEY"] = {"description": "billing provider key", "owner": "billing",
                                           "provider": "stripe", "rotation_days": 90}
        d["workers"]["billing"] = {"script_name": "ascend-billing-{stack}", "stacks": ["staging"],
                                   "secrets": ["NEW_BILLING_KEY", "HUBSPOT_ACCESS_TOKEN"]}
        for worker in d["workers"].values():
            if "SEMRUSH_API_KEY" in worker["secrets"]:
                worker["secrets"].remove("SEMRUSH_API_KEY")
        del d["secrets"]["SEMRUSH_API_KEY"]
        d["secrets"]["HUBSPOT_ACCESS_TOKEN"]["scopes"] = ["workers", "ai_gateway"]
        d["secrets"]["GONG_ACCESS_KEY"]["external"] = True
        d["secrets"]["OPENAI_API_KEY"]["owner"] = "ml-platform"
        d["workers"]["scheduler"]["backend"] = "legacy"
        d["workers"]["context"]["bindings"]["GOOGLE_CLIENT_ID"] = "GOOGLE_OAUTH_CLIENT_SECRET"

    edit_manifest(repo, change)
    edit_stack(repo, "staging", promotionOverride="INC-7 billing launch",
               values={"OPENAI_API_KEY": {"secure": "v1:second"}, "GONG_ACCESS_KEY": {"secure": "v1:gong"}})
    commit(repo)
    text = diff(repo, "--stack", "staging", fmt="text")
    golden("diff_every_kind.txt", text)
    golden("diff_every_kind.md", diff(repo, "--stack", "staging", fmt="markdown"))
    for words in ("setting secrets-plane:promotionOverride: (none) -> INC-7 billing launch",
                  "Worker billing (ascend-billing-staging) added", "store secrets created: NEW_BILLING_KEY_STAGING",
                  "store secrets deleted: GONG_ACCESS_KEY_STAGING, SEMRUSH_API_KEY_STAGING", "store secrets updated: HUBSPOT_ACCESS_TOKEN_STAGING",
                  "external GONG_ACCESS_KEY: must already exist", "values set anew: OPENAI_API_KEY",
                  "NEW_BILLING_KEY", "manifest field: OPENAI_API_KEY: owner ai-platform -> ml-platform",
                  "WARNING GONG_ACCESS_KEY_STAGING: the plane made it and this apply DELETES it",
                  "manifest digest: "):
        assert words in text, words


def test_a_stack_back_off_the_store_says_so_everywhere(repo: Path) -> None:
    edit_stack(repo, "staging", backend="store")
    commit(repo, "staging on the store")
    edit_stack(repo, "staging", backend=None, store=None)
    commit(repo)
    text = diff(repo, "--stack", "staging", fmt="text")
    golden("diff_off_the_store.txt", text)
    golden("diff_off_the_store.md", diff(repo, "--stack", "staging", fmt="markdown"))
    assert "  backend flag: store -> legacy" in text and "  credentials: store -> legacy" in text
    assert "the stack names no store any more" in text


def test_values_set_anew_alone_are_a_change(repo: Path) -> None:
    """No input but a value's ciphertext changed: not "no change" (it rotates the value)."""
    edit_stack(repo, "prod", values={"OPENAI_API_KEY": {"secure": "v1:first"}})
    commit(repo, "values")
    edit_stack(repo, "prod", values={"OPENAI_API_KEY": {"secure": "v1:second"}})
    commit(repo)
    text = diff(repo, "--stack", "prod", fmt="text")
    assert "no change" not in text and "  values set anew: OPENAI_API_KEY" in text
    markdown = diff(repo, "--stack", "prod", fmt="markdown")
    assert "- Values set anew (a rotation if they differ): `OPENAI_API_KEY`" in markdown


@pytest.mark.parametrize("field, value", [
    ("settings", [SettingChange("accountId", "a", "b", "moves every binding")]), ("workers", [WorkerChange("api", "api", "changed")]),
    ("store", "creates store S"), ("store_created", ["A"]), ("store_deleted", ["A"]), ("store_updated", ["A: comment"]),
    ("externals", ["A"]), ("values_set", ["A"]), ("values_needed", ["A"]), ("values_no_longer_needed", ["A"]),
    ("metadata", ["A.owner"]), ("hazards", ["h: x"]), ("backend", ("legacy", "store")), ("digest", ("a", "b")),
])
def test_no_change_is_said_only_when_nothing_at_all_changed(field: str, value: object) -> None:
    """Any one kind of change alone is a change: "no change" is never said over it."""
    assert StackChanges("prod").empty
    changed = StackChanges("prod", **{field: value})  # type: ignore[arg-type]
    assert not changed.empty and changed.as_dict()["empty"] is False


def test_an_external_only_change_writes_nothing_and_makes_no_version(repo: Path) -> None:
    # A Worker newly given an external secret (its value set outside the plane): bound by name,
    # never written, so no write and no Worker version.
    def change(d: dict[str, Any]) -> None:
        d["secrets"]["PARTNER_KEY"] = {"description": "a partner's key", "owner": "partners", "provider": "partner",
                                       "rotation_days": 90, "external": True}
        d["workers"]["api"]["secrets"].append("PARTNER_KEY")

    edit_manifest(repo, change)
    commit(repo)
    prod = stack_of(diff(repo, "--stack", "prod"), "prod")
    (api,) = [w for w in prod["workers"] if w["worker"] == "api"]
    assert api["added"] == ["PARTNER_KEY (external secret_text)"]
    assert (api["write"], api["versions"], prod["versions"], prod["writes"]) == ("none", 0, 0, 0)

