"""`dev`: a mixed Worker (store bindings, Worker secrets, a fallback copy) prepared for local
development, read back through the pinned wrangler's getPlatformProxy(): every binding in the
shape the stack gives it, every value equal, none on a command line or in the output."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CANARY_PREFIX, NODE_BIN, NODE_ENV, ROOT, canary, leak_scan, need_node

FIXTURE = ROOT / "tests" / "fixtures" / "worker"
STORE_BACKED = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture
def mixed(project: Path, tmp_path: Path) -> Path:
    """The api Worker, with OpenAI and Anthropic on the store (OpenAI with a fallback copy), the
    rest Worker secrets; its wrangler config recorded in the manifest and synced for staging."""
    worker = project / "worker"  # inside the project: a manifest records only configs inside it
    shutil.copytree(FIXTURE, worker)
    (worker / "node_modules").symlink_to(ROOT / "node_modules")
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    data["secrets"]["OPENAI_API_KEY"].update(backend="store", fallback=True)
    data["secrets"]["ANTHROPIC_API_KEY"]["backend"] = "store"
    data["workers"]["api"]["wrangler"] = {"config": "worker/wrangler.toml", "env": {"staging": "staging"}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return worker


def stacks(project: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), *args], input=stdin,
                          capture_output=True, text=True, timeout=300, env=env or NODE_ENV)
    assert CANARY_PREFIX not in leak_scan(proc.stdout + proc.stderr)
    return proc


def recording_node(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `node` first on PATH that records its argv, then runs the pinned Node."""
    bin_dir = tmp_path / "argv-bin"
    bin_dir.mkdir()
    log = tmp_path / "node-argv.jsonl"
    real = NODE_BIN / "node" if (NODE_BIN / "node").exists() else Path(shutil.which("node") or "node")
    wrapper = bin_dir / "node"
    wrapper.write_text(f"#!/bin/sh\n{sys.executable} -c 'import json,sys; open(\"{log}\",\"a\").write(json.dumps("
                       f"sys.argv[1:])+\"\\n\")' \"$@\"\nexec {real} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return {**NODE_ENV, "PATH": f"{bin_dir}{os.pathsep}{NODE_ENV['PATH']}"}, log


def test_a_mixed_worker_reads_every_binding_back_through_get_platform_proxy(project: Path, mixed: Path,
                                                                            tmp_path: Path) -> None:
    need_node()
    assert stacks(project, "wrangler", "sync", "--stack", "staging", "--worker", "api").returncode == 0
    # Values as a person has them, with the characters that trip a dotenv file.
    values = {"OPENAI_API_KEY": canary("openai") + " #1", "ANTHROPIC_API_KEY": canary("anthropic"),
              "HUBSPOT_ACCESS_TOKEN": canary("hub") + "'s \"token\"", "SLACK_BOT_TOKEN": canary("slack\nline2")}
    dotenv = "".join(f"{k}={json.dumps(v)}\n" for k, v in values.items())
    env, argv_log = recording_node(tmp_path)
    proc = stacks(project, "dev", "--stack", "staging", "--worker", "api", "--placeholders", stdin=dotenv, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"api (ascend-v5-staging, wrangler env staging): {mixed / '.dev.vars'}: 18 Worker "
                                  f"secret(s); {mixed / '.wrangler/state/v3'}: 2 store secret(s) seeded; placeholders for ")
    assert "plain text on this disk" in proc.stderr
    assert "git does not ignore .dev.vars, .wrangler/" in proc.stderr and "  .dev.vars*\n  .wrangler/" in proc.stderr
    argv = argv_log.read_text()
    assert "seed_local_store.mjs" in argv and CANARY_PREFIX not in leak_scan(argv), "values never on a command line"
    assert oct((mixed / ".dev.vars").stat().st_mode & 0o777) == "0o600"

    desired = {b["name"]: b for b in json.loads(stacks(project, "plan", "--stack", "staging", "--format", "json")
                                                .stdout)["workers"][0]["bindings"]}
    expected = {}
    for name, b in desired.items():
        secret = b["secret"]
        expected[name] = values.get(secret, f"dev-placeholder-{secret}")
    proc = subprocess.run(["node", str(ROOT / "tests" / "platform_proxy_harness.mjs"), str(mixed / "wrangler.toml"),
                           "staging"], input=json.dumps(expected), capture_output=True, text=True, timeout=300,
                          cwd=mixed, env=NODE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert CANARY_PREFIX not in leak_scan(proc.stdout + proc.stderr)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(seen) == set(desired) and len(seen) == 20
    for name, b in desired.items():
        kind = "store" if b["type"] == "secrets_store_secret" else "string"
        assert seen[name] == {"kind": kind, "equal": True}, (name, seen[name])
    assert seen["OPENAI_API_KEY_FALLBACK"]["kind"] == "string", "the fallback copy is a Worker secret"
    assert {n for n, s in seen.items() if s["kind"] == "store"} == set(STORE_BACKED)


def test_a_rerun_after_a_flip_moves_the_binding_and_keeps_other_lines(project: Path, mixed: Path) -> None:
    need_node()
    (mixed / ".dev.vars").write_text("# local only\nDEBUG=1\nOPENAI_API_KEY=stale\n")
    (mixed / ".gitignore").write_text(".dev.vars*\n.wrangler/\n")
    proc = stacks(project, "dev", "--stack", "staging", "--worker", "api", "--placeholders")
    assert proc.returncode == 0, proc.stderr
    assert "git does not ignore" not in proc.stderr and "1 other line(s) kept" in proc.stdout
    text = (mixed / ".dev.vars").read_text()
    assert text.startswith("# local only\nDEBUG=1\n") and "OPENAI_API_KEY=" not in text.replace("OPENAI_API_KEY_FALLBACK", "")
    assert "OPENAI_API_KEY_FALLBACK='dev-placeholder-OPENAI_API_KEY'" in text


@pytest.mark.parametrize("args,stdin,words", [
    (["--worker", "api"], "", "no value for ANTHROPIC_API_KEY"),
    (["--worker", "api"], "OPENAI_APIKEY=x\n", "'OPENAI_APIKEY' is not a secret of secrets_manifest.yaml (fix: did you "
                                               "mean 'OPENAI_API_KEY'?)"),
    (["--worker", "api"], "OPENAI_API_KEY=\n", "'OPENAI_API_KEY' has no value"),
    (["--all", "--dir", "x"], "", "--dir names one Worker's folder"),
])
def test_dev_refuses_before_writing_anything(project: Path, mixed: Path, args: list[str], stdin: str, words: str) -> None:
    proc = stacks(project, "dev", "--stack", "staging", *args, stdin=stdin)
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    assert not (mixed / ".dev.vars").exists() and not (mixed / ".wrangler").exists()


def test_dev_keeps_every_value_it_is_not_given_and_placeholders_fill_only_what_is_missing(project: Path,
                                                                                           mixed: Path) -> None:
    from stacks.core.estate import load_estate
    need_node()
    (mixed / ".gitignore").write_text(".dev.vars*\n.wrangler/\n")
    worker = load_estate(project).desired_worker("staging", "api")
    text_names = sorted(b.name for b in worker.bindings if b.kind == "secret_text" and b.role != "fallback")
    local = {name: canary(f"local-{name}") for name in text_names[1:]}  # the first is not there yet
    (mixed / ".dev.vars").write_text("".join(f"{name}={value}\n" for name, value in local.items()))
    proc = stacks(project, "dev", "--stack", "staging", "--worker", "api", "--placeholders")
    assert proc.returncode == 0, proc.stderr
    after = (mixed / ".dev.vars").read_text()
    for name, value in local.items():
        assert f"{name}={value}\n" in after or f"{name}='{value}'\n" in after, name
    assert f"{text_names[0]}='dev-placeholder-" in after
    assert f"kept the current value of {', '.join(sorted(local))}" in proc.stdout
    assert not list(mixed.glob(".dev.vars.*")), "nothing overwritten, so nothing to back up"

    # Without --placeholders, a value already there is kept; only the store's values are asked for.
    store = {b.secret for b in worker.bindings if b.kind == "secrets_store_secret"}
    stdin = "".join(f"{name}={canary(name)}\n" for name in sorted(store))
    proc = stacks(project, "dev", "--stack", "staging", "--worker", "api", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert all(value in (mixed / ".dev.vars").read_text() for value in local.values())
