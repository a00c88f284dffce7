"""`init --from-wrangler`: a manifest drafted offline from wrangler configs of the test's own (TOML
and JSONC, envs, store bindings, renames, a .dev.vars), which validates once its TODOs are filled
and binds exactly what the configs declare; names only, never a value."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID, canary, leak_scan

from stacks.core.estate import load_estate
from stacks.worker_kit.wrangler_config import strip_jsonc

API_TOML = f"""\
# The main API: secrets on the Worker, two of them through the store in staging already.
name = "ascend-v5"
main = "src/index.ts"

[secrets]
required = ["HUBSPOT_ACCESS_TOKEN", "OPENAI_API_KEY", "SLACK_BOT_TOKEN"]

[env.staging]
name = "ascend-v5-staging"

[env.staging.secrets]
required = ["HUBSPOT_ACCESS_TOKEN"]

[[env.staging.secrets_store_secrets]]
binding = "OPENAI_API_KEY"
store_id = "{STORE_ID}"
secret_name = "OPENAI_API_KEY_STAGING"

[[env.staging.secrets_store_secrets]]
binding = "SLACK_BOT_TOKEN"
store_id = "{STORE_ID}"
secret_name = "SLACK_BOT_TOKEN_STAGING"
"""

SCHEDULER_JSONC = f"""{{
  // The scheduler: one secret read under another name, from the store in staging.
  "name": "ascend-scheduler",
  "main": "src/index.ts",
  "secrets": {{ "required": ["APOLLO_API_KEY", "SLACK"] }}, // renamed: SLACK reads SLACK_BOT_TOKEN
  "env": {{
    "staging": {{
      "secrets_store_secrets": [
        {{ "binding": "SLACK", "store_id": "{STORE_ID}", "secret_name": "SLACK_BOT_TOKEN_STAGING" }},
      ],
      "secrets": {{ "required": ["APOLLO_API_KEY"] }},
    }},
  }},
}}
"""


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    api = tmp_path / "api"
    api.mkdir()
    (api / "wrangler.toml").write_text(API_TOML)
    # A local value next to the config: its name is a secret of the Worker; its value never travels.
    (api / ".dev.vars").write_text(f"GONG_ACCESS_KEY={canary('gong-local')}\n")
    scheduler = tmp_path / "scheduler"
    scheduler.mkdir()
    (scheduler / "wrangler.jsonc").write_text(SCHEDULER_JSONC)
    return api / "wrangler.toml", scheduler / "wrangler.jsonc"


def init(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "stacks", "init", *args], cwd=project, capture_output=True,
                          text=True, timeout=120)
    assert CANARY_PREFIX not in leak_scan(proc.stdout + proc.stderr)
    return proc


def fill_todos(text: str) -> str:
    text = re.sub(r"description: TODO", "description: drafted", text)
    text = re.sub(r"owner: TODO +# who rotates it", "owner: platform", text)
    text = re.sub(r"provider: TODO +# e.g. (\w+)", r"provider: \1", text)
    return re.sub(r"rotation_days: TODO +# e.g. 90", "rotation_days: 90", text)


def test_a_draft_from_toml_and_jsonc_validates_once_filled_and_binds_what_they_declare(configs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The project holds the Workers' folders: the manifest records configs inside it only.
    project = tmp_path
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    proc = init(project, "--from-wrangler", *map(str, configs), "--output", "secrets_manifest.yaml")
    assert proc.returncode == 0, proc.stderr
    notes = proc.stderr.splitlines()
    assert f"# stack staging: Pulumi.staging.yaml needs `secrets-plane:store: {{adopt: {STORE_ID}}}` (the store the " \
           "configs bind)" in notes
    assert "# stack staging: its store secret names look like {name}_STAGING: set `secrets-plane:secretName: " \
           "'{name}_STAGING'` in Pulumi.staging.yaml" in notes
    assert "# 5 secret(s), 2 Worker(s) drafted; 20 TODO(s) to fill" in notes
    draft = (project / "secrets_manifest.yaml").read_text()
    assert CANARY_PREFIX not in draft

    # Until the TODOs are filled, validate names each one (and exits 1).
    assert "# stack prod: every binding is a Worker secret there: hold it back with `secrets-plane:backend: legacy` in " \
           "Pulumi.prod.yaml (the draft's store bindings are other stacks')" in notes
    for stack, extra in (("staging", "  secrets-plane:secretName: \"{name}_STAGING\"\n"),
                         ("prod", "  secrets-plane:backend: legacy\n")):
        (project / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  secrets-plane:accountId: {ACCOUNT}\n  secrets-plane:store:\n    adopt: {STORE_ID}\n{extra}")
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    todos = [line for line in proc.stderr.splitlines() if "is still TODO" in line]
    assert len(todos) == 20 and "secrets.APOLLO_API_KEY.owner: error: owner of 'APOLLO_API_KEY' is still TODO (a " \
                                "draft) (fix: name who rotates it (a team or a person))" in proc.stderr

    (project / "secrets_manifest.yaml").write_text(fill_todos(draft))
    estate = load_estate(project)
    manifest = estate.manifest.manifest
    assert set(manifest.workers) == {"ascend-v5", "ascend-scheduler"}
    assert manifest.workers["ascend-v5"].wrangler is not None
    assert manifest.workers["ascend-v5"].wrangler.config == "api/wrangler.toml"
    assert manifest.workers["ascend-v5"].wrangler.env == {"staging": "staging"}

    # Each stack binds exactly what the configs declare, each binding the way they declare it.
    declared = {
        ("staging", "ascend-v5-staging"): {"HUBSPOT_ACCESS_TOKEN": ("secret_text", None),
                                           "OPENAI_API_KEY": ("secrets_store_secret", "OPENAI_API_KEY_STAGING"),
                                           "SLACK_BOT_TOKEN": ("secrets_store_secret", "SLACK_BOT_TOKEN_STAGING"),
                                           "GONG_ACCESS_KEY": ("secret_text", None)},
        ("prod", "ascend-v5"): {"HUBSPOT_ACCESS_TOKEN": ("secret_text", None), "OPENAI_API_KEY": ("secret_text", None),
                                "SLACK_BOT_TOKEN": ("secret_text", None), "GONG_ACCESS_KEY": ("secret_text", None)},
        ("staging", "ascend-scheduler-staging"): {"SLACK": ("secrets_store_secret", "SLACK_BOT_TOKEN_STAGING"),
                                                  "APOLLO_API_KEY": ("secret_text", None)},
        ("prod", "ascend-scheduler"): {"SLACK": ("secret_text", None), "APOLLO_API_KEY": ("secret_text", None)},
    }
    for stack in ("staging", "prod"):
        desired = estate.desired_state(stack)
        got = {(stack, w.script_name): {b.name: (b.kind, b.store_secret_name) for b in w.bindings}
               for w in desired.workers}
        assert got == {k: v for k, v in declared.items() if k[0] == stack}, stack


def test_without_output_the_draft_goes_to_stdout_and_nothing_is_overwritten(configs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = init(tmp_path, "--from-wrangler", str(configs[0]), "--stacks", "staging")
    assert proc.returncode == 0 and proc.stdout.startswith("# yaml-language-server:")
    assert "      staging: ascend-v5-staging" in proc.stdout and "prod" not in proc.stdout.split("workers:")[1]
    (tmp_path / "secrets_manifest.yaml").write_text("keep me\n")
    proc = init(tmp_path, "--from-wrangler", str(configs[0]), "--output", "secrets_manifest.yaml")
    assert proc.returncode == 1 and "init never overwrites a manifest" in proc.stderr
    assert (tmp_path / "secrets_manifest.yaml").read_text() == "keep me\n"


def test_a_config_that_names_no_worker_or_deploys_no_stack_is_a_located_error(tmp_path: Path) -> None:
    nameless = tmp_path / "wrangler.toml"
    nameless.write_text('main = "src/index.ts"\n')
    proc = init(tmp_path, "--from-wrangler", str(nameless))
    assert proc.returncode == 1 and proc.stderr.startswith(f"{nameless}: name: error: the config names no Worker")
    other = tmp_path / "other.jsonc"
    other.write_text(json.dumps({"name": "x", "env": {"qa": {}}}))
    assert json.loads(strip_jsonc(other.read_text()))["name"] == "x"
    proc = init(tmp_path, "--from-wrangler", str(other), "--stacks", "qa2")
    assert proc.returncode == 1 and "no wrangler env of this config deploys any of the stacks qa2" in proc.stderr


def test_a_wrapped_base64_tail_ending_in_one_equals_is_no_name(tmp_path: Path) -> None:
    # `base64` wraps at 76 columns: the value's last line, ending in `=`, parses as NAME= with no value.
    from stacks.worker_kit.init_draft import draft

    worker = tmp_path / "w"
    worker.mkdir()
    (worker / "wrangler.toml").write_text('name = "w"\n')
    tail = "ZXhhbXBsZSIsCiAgInByaXZhdGVfa2V5IjogInh4eCIKfQo"
    (worker / ".dev.vars").write_text(f"GCP_CREDS=ewogICJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCIsCiAgInByb2plY3RfaWQiOiAi\n"
                                      f"{tail}=\nEMPTY_ON_PURPOSE=\nQUOTED_EMPTY=\"\"\n")
    text, notes = draft([worker / "wrangler.toml"], ["prod"], tmp_path)
    assert tail not in text and tail.lower() not in text and tail not in "\n".join(notes)
    assert "GCP_CREDS" in text and "QUOTED_EMPTY" in text and "EMPTY_ON_PURPOSE" not in text
