"""docs/getting-started.md followed literally, in a fresh copy of the project (its git-tracked
files, the set-up virtualenv linked in): every `sh` block of the page runs as written, one bash
script per block, and must exit 0; every `yaml` block headed `# Pulumi.<stack>.yaml` becomes that
file, byte for byte. What the page asks a person to do in prose is done here, and only that:
the Workers' own configs are in the repository (tests/fixtures/getting_started), the draft's TODOs
are filled, `staging.env` holds the values. The token is the page's own `...`; the account is the
fake API on 127.0.0.1, holding the Workers the configs describe, and `pulumi` is the stand-in
(tests/fake_pulumi.py), which records what it is given: no Pulumi CLI exists here.

`bash scripts/setup.sh` is the one line not run: the suite runs after it (scripts/test.sh), and
its virtualenv is the one linked in."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CANARY_PREFIX, ROOT, canary, leak_scan
from fake_cloudflare import FakeCloudflare
from test_first_hour import fill_todos

PAGE = ROOT / "docs" / "getting-started.md"
CONFIGS = Path(__file__).parent / "fixtures" / "getting_started"
SETUP = "bash scripts/setup.sh"
BLOCK = re.compile(r"^```(sh|yaml)\n(.*?)^```$", re.S | re.M)

# The Workers the configs describe, as they are live today: script -> its secret_text bindings.
LIVE = {"shop-api-staging": ["STRIPE_KEY", "OPENAI_KEY"], "shop-api": ["STRIPE_KEY", "OPENAI_KEY"],
        "shop-scheduler-staging": ["OPENAI_KEY"], "shop-scheduler": ["OPENAI_KEY"],
        "ascend-billing": ["BILLING_KEY"]}


def blocks() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in BLOCK.findall(PAGE.read_text())]


def fresh_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True,
                           check=True).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(CONFIGS, dest, dirs_exist_ok=True)
    return dest


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    page = blocks()
    assert page[0][0] == "sh" and page[0][1].splitlines()[0].startswith(SETUP), "the page starts with the set-up"
    project = fresh_copy(tmp_path / "project")
    account = next(yaml.safe_load(body)["config"]["secrets-plane:accountId"] for lang, body in page if lang == "yaml")
    fake = FakeCloudflare().start()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'fake_pulumi.py'} \"$@\"\n")
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "pulumi-calls.jsonl"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLOUDFLARE_", "PULUMI_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_PULUMI_LOG=str(log),
               CLOUDFLARE_BASE_URL=fake.base_url, SECRETS_PLANE_HTTP_TIMEOUT="5")
    try:
        for script, names in LIVE.items():
            fake.add_script(account, script, [{"type": "secret_text", "name": n, "text": canary(n)} for n in names])
        outputs = []
        for lang, body in page:
            if lang == "yaml":
                target = re.fullmatch(r"# (Pulumi\.\w+\.yaml)", body.splitlines()[0])
                if target:  # "one Pulumi.<stack>.yaml per stack, in place of the sample's"
                    (project / target.group(1)).write_text(body)
                continue
            script = "\n".join(line for line in body.splitlines() if not line.startswith(SETUP))
            if "values load" in script:  # "staging.env holds NAME=value lines"
                manifest = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
                (project / "staging.env").write_text("".join(f"{n}={canary(n)}\n" for n in manifest["secrets"]))
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=project, env=env,
                                  capture_output=True, text=True, timeout=300)
            shown = proc.stdout + proc.stderr
            assert proc.returncode == 0, f"the page's block failed as written:\n{script}\n---\n{shown}"
            assert CANARY_PREFIX not in leak_scan(shown)
            outputs.append((script, shown))
            if "stacks init" in script:  # "fill in each TODO the draft leaves"
                manifest_file = project / "secrets_manifest.yaml"
                manifest_file.write_text(fill_todos(manifest_file.read_text()))
    finally:
        fake.stop()

    by_command = {script.splitlines()[-1]: shown for script, shown in outputs}
    first_validate, init = outputs[0][1], next(shown for script, shown in outputs if "stacks init" in script)
    assert "still the sample's account id" in first_validate  # the fresh clone's validate names the sample's ids
    assert "in place of the shipped sample" in init
    drafted = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
    assert sorted(drafted["secrets"]) == ["OPENAI_KEY", "STRIPE_KEY"]
    assert {w["script_name"]["staging"] for w in drafted["workers"].values()} == {"shop-api-staging",
                                                                                "shop-scheduler-staging"}
    # The stack files written as the page shows them: validate has no sample id left to name.
    validated = next(shown for script, shown in outputs[1:] if script.endswith("stacks validate"))
    assert "sample" not in validated, validated
    assert "BILLING_KEY" in next(shown for command, shown in by_command.items() if "stacks import" in command)
    assert "STRIPE_KEY" in by_command[".venv/bin/python -m stacks values status --stack staging"]
    assert "canary staging" in by_command[".venv/bin/python -m stacks canary --stack staging"]
    calls = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
    assert ["stack", "select", "staging"] in calls and ["up", "--refresh"] in calls
    assert ["preview", "--expect-no-changes"] in calls
    values = [c for c in calls if c[:2] == ["config", "set"]]
    assert len(values) == 2 and all("--secret" in c for c in values)  # each value on stdin, never in argv
    assert CANARY_PREFIX not in json.dumps(calls)


def test_the_shipped_manifest_is_the_sample_init_may_replace() -> None:
    from stacks.core.sample_ids import is_sample_manifest

    assert is_sample_manifest((ROOT / "secrets_manifest.yaml").read_bytes())


def test_replace_sample_replaces_the_unedited_sample_only(tmp_path: Path) -> None:
    project = fresh_copy(tmp_path / "project")
    init = [sys.executable, "-m", "stacks", "init", "--from-wrangler", "workers/api/wrangler.toml",
            "--output", "secrets_manifest.yaml"]
    manifest = project / "secrets_manifest.yaml"
    refused = subprocess.run(init, cwd=project, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--replace-sample" in refused.stderr, "without the flag: refused, the flag named"
    edited = manifest.read_text() + "# my note\n"
    manifest.write_text(edited)
    refused = subprocess.run([*init, "--replace-sample"], cwd=project, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "not the shipped sample's manifest" in refused.stderr
    assert "Traceback" not in refused.stderr and manifest.read_text() == edited, "an edited manifest is never replaced"
    elsewhere = project / "mine.yaml"
    shutil.copy(ROOT / "secrets_manifest.yaml", elsewhere)  # the unedited sample: only the link is wrong
    manifest.unlink()
    manifest.symlink_to(elsewhere)
    refused = subprocess.run([*init, "--replace-sample"], cwd=project, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and elsewhere.read_bytes() == (ROOT / "secrets_manifest.yaml").read_bytes(), \
        "never written through a link"
    manifest.unlink()
    shutil.copy(ROOT / "secrets_manifest.yaml", manifest)
    replaced = subprocess.run([*init, "--replace-sample"], cwd=project, capture_output=True, text=True, timeout=120)
    assert replaced.returncode == 0, replaced.stderr
    assert "shop-api-staging" in manifest.read_text()


def test_replace_sample_checks_again_just_before_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The sample edited while the draft is made (an editor saving it): never replaced."""
    from stacks.cli import main
    from stacks.worker_kit import init_draft

    project = fresh_copy(tmp_path / "project")
    manifest = project / "secrets_manifest.yaml"
    real = init_draft.draft

    def draft_while_someone_edits(*args: object, **kwargs: object) -> object:
        manifest.write_text(manifest.read_text() + "# my note\n")
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(init_draft, "draft", draft_while_someone_edits)
    monkeypatch.chdir(project)
    code = main(["init", "--from-wrangler", "workers/api/wrangler.toml", "--output", "secrets_manifest.yaml",
                 "--replace-sample"])
    assert code == 1 and "not the shipped sample's manifest" in capsys.readouterr().err
    assert manifest.read_text().endswith("# my note\n")
