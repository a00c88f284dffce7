"""The Worker-side kit, proven with Cloudflare's own tools run locally: wrangler config sync and
check (real wrangler dry-run), the dual-shape accessor, typings, and the codemod (tsc, miniflare)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from conftest import CANARY_PREFIX, NODE_BIN, NODE_ENV, ROOT, need_node

from stacks.cli import main
from stacks.worker_kit.codemod import rewrite_source

FIXTURE = ROOT / "tests" / "fixtures" / "worker"
ROUTES = ["/hubspot", "/llm", "/google", "/salesforce", "/slack", "/forms", "/telemetry"]
API_SECRETS = ["HUBSPOT_ACCESS_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_OAUTH_CLIENT_ID",
               "GOOGLE_OAUTH_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SALESFORCE_CLIENT_ID",
               "SALESFORCE_CLIENT_SECRET"]


def cli(*args: str, project: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def worker(project: Path) -> Path:
    """The fixture Worker, inside the project (a manifest records only configs inside it)."""
    dest = project / "worker"
    shutil.copytree(FIXTURE, dest)
    (dest / "src" / "lib").mkdir()
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", dest / "src" / "lib" / "secrets.ts")
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest


def pin(project: Path, stack: str, backend: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + f"  secrets-plane:backend: {backend}\n")


def run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=NODE_ENV)


def dry_run(worker: Path, env: str | None) -> str:
    cmd = [str(NODE_BIN / "wrangler"), "deploy", "--dry-run", "--outdir", "dist"] + (["--env", env] if env else ["--env", ""])
    proc = run(cmd, worker)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def dry_run_bindings(worker: Path, env: str | None) -> list[str]:
    return sorted(line.split()[0].removeprefix("env.") for line in dry_run(worker, env).splitlines()
                  if line.rstrip().endswith("Secrets Store Secret"))


# ---- wrangler config ------------------------------------------------------------------------

def test_sync_check_toml_with_real_wrangler(worker: Path, project: Path) -> None:
    need_node()
    pin(project, "staging", "store")
    config = worker / "wrangler.toml"
    original = config.read_text()
    args = ["--stack", "staging", "--worker", "api", "--config", str(config), "--env", "staging"]

    code, out, err = cli("wrangler", "check", *args, project=project)
    assert code == 1 and "+[[env.staging.secrets_store_secrets]]" in out and "out of sync" in err

    code, out, _ = cli("wrangler", "sync", *args, project=project)
    assert code == 0 and "updated" in out
    synced = config.read_text()
    # Nothing else changed: the original file, comments included, is intact and the entries follow it.
    assert synced.startswith(original) and synced.count("[[env.staging.secrets_store_secrets]]") == 19
    assert "[env.staging.secrets]" not in synced, "no Worker secret is left in this Worker: nothing is required"
    assert cli("wrangler", "check", *args, project=project)[0] == 0
    assert cli("wrangler", "sync", *args, project=project)[1].startswith("unchanged")
    assert config.read_text() == synced

    from stacks.core.estate import load_estate

    desired = load_estate(project).desired_state("staging")
    api = next(w for w in desired.workers if w.worker == "api")
    assert dry_run_bindings(worker, "staging") == sorted(b.name for b in api.bindings)
    assert dry_run_bindings(worker, None) == [], "the top-level env is not touched"

    # Back to legacy: the store entries go, and the Worker's secrets are listed as required, which
    # the pinned wrangler accepts without a word (an unknown key would be "Unexpected fields").
    (project / "Pulumi.staging.yaml").write_text((project / "Pulumi.staging.yaml").read_text().replace(
        "secrets-plane:backend: store", "secrets-plane:backend: legacy"))
    assert cli("wrangler", "check", *args, project=project)[0] == 1
    assert cli("wrangler", "sync", *args, project=project)[0] == 0
    text = config.read_text()
    assert "secrets_store_secrets" not in text and text.startswith(original.rstrip())
    required = text[text.index("[env.staging.secrets]"):]
    assert required.count('"') == 2 * 19 and '"OPENAI_API_KEY"' in required
    assert dry_run_bindings(worker, "staging") == []
    output = dry_run(worker, "staging")
    assert "Unexpected fields" not in output and "▲" not in output, "no warning"


def test_sync_of_a_mixed_worker_writes_only_its_store_bindings_and_keeps_others(worker: Path, project: Path) -> None:
    need_node()
    path = project / "secrets_manifest.yaml"
    path.write_text(path.read_text().replace("    description: OpenAI API key (also AI Gateway BYOK)\n",
                                             "    description: OpenAI API key (also AI Gateway BYOK)\n    backend: store\n"
                                             "    fallback: true\n"))
    config = worker / "wrangler.toml"
    # An entry the manifest does not manage, added by the Worker's team: it stays.
    config.write_text(config.read_text() + '\n[env.staging.secrets]\nrequired = ["SENTRY_DSN"]\n')
    args = ["--stack", "staging", "--worker", "api", "--config", str(config), "--env", "staging"]
    code, out, _ = cli("wrangler", "sync", *args, project=project)
    assert code == 0, out
    assert "1 secrets_store_secrets entries, 19 names in secrets.required" in out
    assert dry_run_bindings(worker, "staging") == ["OPENAI_API_KEY"]
    text = config.read_text()
    required = text[text.index("[env.staging.secrets]"):].split("\n")[1]
    assert required.startswith('required = ["SENTRY_DSN", ') and '"OPENAI_API_KEY_FALLBACK"' in required
    assert '"OPENAI_API_KEY"' not in required, "a store binding is declared, not required"


def test_check_json_and_jsonc(tmp_path: Path, project: Path) -> None:
    pin(project, "prod", "store")
    args = ["--stack", "prod", "--worker", "scheduler"]
    jsonc = tmp_path / "wrangler.jsonc"
    jsonc.write_text('{\n  // scheduler\n  "name": "ascend-scheduler", /* cron */\n  "main": "src/index.ts",\n}\n')
    code, out, _ = cli("wrangler", "check", *args, "--config", str(jsonc), project=project)
    assert code == 1 and '"secrets_store_secrets"' in out
    before = jsonc.read_text()
    code, _, err = cli("wrangler", "sync", *args, "--config", str(jsonc), project=project)
    assert code == 0, err
    after = jsonc.read_text()
    # The comments and the trailing comma stay; the list goes in after the last member.
    assert after.startswith(before[:before.index("}\n")]) and after.endswith("  ],\n}\n")
    assert cli("wrangler", "check", *args, "--config", str(jsonc), project=project)[0] == 0
    plain = tmp_path / "wrangler.json"
    plain.write_text('{\n  "name": "ascend-scheduler",\n  "main": "src/index.ts"\n}\n')
    assert cli("wrangler", "sync", *args, "--config", str(plain), project=project)[0] == 0
    data = json.loads(plain.read_text())
    assert len(data["secrets_store_secrets"]) == 13 and data["name"] == "ascend-scheduler"
    assert "secrets" not in data, "every secret of this Worker is on the store"
    assert cli("wrangler", "check", *args, "--config", str(plain), project=project)[0] == 0


@pytest.mark.parametrize("right,stale,why", [
    ('secret_name = "OPENAI_API_KEY_STAGING"', 'secret_name = "OPENAI_API_KEY"', "prod's store secret name"),
    ('store_id = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"', 'store_id = "00000000000000000000000000000000"', "another store"),
    ('required = ["ANTHROPIC_API_KEY"', 'required = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"', "a name now on the store"),
])
def test_check_sees_every_stale_entry(tmp_path: Path, project: Path, right: str, stale: str, why: str) -> None:
    """Each entry the manifest manages must be exactly right for this stack: an entry with another
    stack's secret name, another store, or a stale required name is drift, and sync mends it."""
    path = project / "secrets_manifest.yaml"
    path.write_text(path.read_text().replace("    description: OpenAI API key (also AI Gateway BYOK)\n",
                                             "    description: OpenAI API key (also AI Gateway BYOK)\n    backend: store\n"))
    config = tmp_path / "wrangler.toml"
    config.write_text('name = "ascend-v5"\n\n[env.staging]\nname = "ascend-v5-staging"\n\n')
    args = ("--stack", "staging", "--worker", "api", "--config", str(config), "--env", "staging")
    assert cli("wrangler", "sync", *args, project=project)[0] == 0
    synced = config.read_text()
    assert cli("wrangler", "check", *args, project=project)[0] == 0
    assert synced.count(right) == 1
    config.write_text(synced.replace(right, stale))
    code, out, err = cli("wrangler", "check", *args, project=project)
    assert code == 1 and out.startswith(f"--- {config} (now)") and "out of sync" in err, (why, err)
    assert cli("wrangler", "sync", *args, project=project)[0] == 0
    import tomllib

    assert tomllib.loads(config.read_text()) == tomllib.loads(synced), "sync puts it right"
    assert cli("wrangler", "check", *args, project=project)[0] == 0


def test_wrangler_errors_are_located(project: Path, tmp_path: Path) -> None:
    code, _, err = cli("wrangler", "check", "--stack", "prod", "--worker", "apii", "--config", "x.toml", project=project)
    assert code == 1 and "did you mean 'api'?" in err
    code, _, err = cli("wrangler", "check", "--stack", "prod", "--worker", "api", project=project)
    assert code == 1 and "no wrangler config path" in err
    broken = tmp_path / "wrangler.toml"
    broken.write_text("name = \n")
    code, _, err = cli("wrangler", "check", "--stack", "prod", "--worker", "api", "--config", str(broken), project=project)
    assert code == 1 and "TOML parse error" in err and "Traceback" not in err


def test_a_toml_syntax_error_has_its_line_and_column(project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "wrangler.toml"
    broken.write_text('name = "api"\nmain = "src/index.ts"\n[vars\nLOG_LEVEL = "debug"\n')
    code, out, err = cli("wrangler", "check", "--stack", "prod", "--worker", "api", "--config", str(broken),
                         project=project)
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"{broken}:3: error: TOML parse error (") and "at line 3, column 6" in err, err
    assert "debug" not in err, "what the file holds is not quoted"


def test_an_env_that_deploys_another_script_is_an_error_naming_both(worker: Path, project: Path) -> None:
    """The finding: `wrangler check --stack prod --env staging` said "in sync" for the staging script."""
    pin(project, "prod", "store")
    config = worker / "wrangler.toml"
    before = config.read_text()
    for action in ("check", "sync"):
        code, out, err = cli("wrangler", action, "--stack", "prod", "--worker", "api", "--config", str(config), "--env",
                             "staging", project=project)
        assert code == 1 and out == ""
        assert err == (f"{config}: env.staging.name: error: stack 'prod' binds Worker 'api' as script 'ascend-v5', but "
                       "wrangler.toml [env.staging] deploys 'ascend-v5-staging' (fix: pass no --env (the top level "
                       "deploys it) (or record it: workers.api.wrangler.env.prod))\n")
    assert config.read_text() == before, "nothing written"
    # An env without a name of its own deploys `<name>-<env>`, as wrangler names it: right for
    # staging (then only the entries are out of sync), wrong for prod.
    config.write_text(before.replace('name = "ascend-v5-staging"\n', ""))
    code, _, err = cli("wrangler", "check", "--stack", "staging", "--worker", "api", "--config", str(config), "--env",
                       "staging", project=project)
    assert code == 1 and "out of sync: " in err and "error:" not in err, "the right script: only its entries drift"
    code, _, err = cli("wrangler", "check", "--stack", "prod", "--worker", "api", "--config", str(config), "--env",
                       "staging", project=project)
    assert code == 1 and "as script 'ascend-v5', but wrangler.toml [env.staging] deploys 'ascend-v5-staging'" in err


def test_the_hint_of_check_is_a_command_that_works_pasted(worker: Path, project: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    pin(project, "staging", "store")
    config = worker / "wrangler.toml"
    monkeypatch.chdir(tmp_path)  # somewhere else entirely: the hint must still work from here
    code, _, err = cli("wrangler", "check", "--stack", "staging", "--worker", "api", "--config", str(config), "--env",
                       "staging", project=project)
    assert code == 1
    hint = err.rsplit("; run: ", 1)[1].strip()
    assert hint == (f"python -m stacks wrangler sync --project-dir {project} --stack staging --worker api --config "
                    f"{config} --env staging")
    argv = shlex.split(hint)[3:]
    assert main(argv) == 0
    assert cli("wrangler", "check", "--stack", "staging", "--worker", "api", "--config", str(config), "--env", "staging",
               project=project)[0] == 0


def _record_configs(project: Path, worker: Path) -> Path:
    """api and scheduler record their wrangler configs in the manifest; the others do not."""
    scheduler = project / "scheduler"
    scheduler.mkdir()
    (scheduler / "wrangler.toml").write_text('name = "ascend-scheduler"\nmain = "src/index.ts"\n\n[env.staging]\n'
                                             'name = "ascend-scheduler-staging"\n')
    path = project / "secrets_manifest.yaml"
    text = path.read_text()
    text = text.replace("    description: Main API (V5)\n", "    description: Main API (V5)\n    wrangler:\n"
                        f"      config: {(worker / 'wrangler.toml').relative_to(project)}\n      env: {{staging: staging}}\n", 1)
    text = text.replace("  scheduler:\n", f"  scheduler:\n    wrangler:\n      config: {(scheduler / 'wrangler.toml').relative_to(project)}\n"
                        "      env: {staging: staging}\n", 1)
    path.write_text(text)
    return scheduler


def test_check_and_sync_all_cover_every_worker_with_a_wrangler_entry(worker: Path, project: Path) -> None:
    scheduler = _record_configs(project, worker)
    pin(project, "staging", "store")
    code, out, err = cli("wrangler", "check", "--stack", "staging", "--all", project=project)
    assert code == 1
    assert err.count("out of sync: ") == 2 and "run: python -m stacks wrangler sync" in err
    assert f"--project-dir {project} --stack staging --worker scheduler" in err
    code, out, _ = cli("wrangler", "sync", "--stack", "staging", "--all", project=project)
    assert code == 0 and out.count("updated: ") == 2
    assert (scheduler / "wrangler.toml").read_text().count("[[env.staging.secrets_store_secrets]]") == 13
    code, out, _ = cli("wrangler", "check", "--stack", "staging", "--all", project=project)
    assert code == 0 and out.count("in sync: ") == 2
    code, _, err = cli("wrangler", "check", "--stack", "staging", "--all", "--env", "staging", project=project)
    assert code == 1 and "--config and --env name one Worker's config" in err
    code, _, err = cli("wrangler", "check", "--stack", "staging", project=project)
    assert code == 1 and "pass --worker with one of: api, context, dev, preview, scheduler (or --all)" in err


def test_types_all_writes_each_workers_typings_beside_its_config(worker: Path, project: Path) -> None:
    scheduler = _record_configs(project, worker)
    code, out, _ = cli("types", "--stack", "prod", "--all", project=project)
    assert code == 0
    assert out.splitlines() == [f"wrote: {worker / 'src' / 'secrets.generated.ts'} (Worker api, the same bindings in "
                                "prod, staging)",
                                f"wrote: {scheduler / 'secrets.generated.ts'} (Worker scheduler, the same bindings in "
                                "prod, staging)"]
    text = (worker / "src" / "secrets.generated.ts").read_text()
    assert "export interface ApiSecrets {" in text
    assert text.startswith("// Secret bindings of Worker 'api', the same in every stack it runs in (ascend-v5 in prod, "
                           "ascend-v5-staging in staging).\n")
    # One file serves every stack: whichever stack writes it, it is the same, and each stack binds what it declares.
    for stack in ("staging", "prod", None):
        again = cli("types", *(["--stack", stack] if stack else []), "--all", project=project)[1]
        assert again.count("unchanged: ") == 2, again
    body = text.split("\n", 2)[2]
    for stack in ("staging", "prod"):
        assert cli("types", "--stack", stack, "--worker", "api", project=project)[1].split("\n", 2)[2] == body


def test_one_typings_file_serves_every_stack_with_copies_and_overlap_in_one(worker: Path, project: Path) -> None:
    """A fallback copy in one stack only, and an overlap window open in one stack only: the Worker's
    typings are still one file, true for each stack (the copy optional, _PREVIOUS always there)."""
    _record_configs(project, worker)
    text = (project / "secrets_manifest.yaml").read_text()
    import yaml
    data = yaml.safe_load(text)
    data["secrets"]["OPENAI_API_KEY"]["fallback"] = True
    data["secrets"]["HUBSPOT_ACCESS_TOKEN"]["overlap_days"] = 7
    (project / "secrets_manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    pin(project, "staging", "store")
    staging = project / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text() + "  secrets-plane:previous:\n    HUBSPOT_ACCESS_TOKEN:\n"
                       "      retires: '2099-01-01'\n      value:\n        secure: v1:x\n")
    code, out, err = cli("types", "--stack", "staging", "--all", project=project)
    assert code == 0, err
    shared = (worker / "src" / "secrets.generated.ts").read_text()
    assert "readonly OPENAI_API_KEY_FALLBACK?: string;" in shared and "HUBSPOT_ACCESS_TOKEN_PREVIOUS" in shared
    assert cli("types", "--stack", "prod", "--all", project=project)[1].count("unchanged: ") == 2


# ---- typings --------------------------------------------------------------------------------

def test_types_cover_the_workers_bindings() -> None:
    code, out, _ = cli("types", "--stack", "staging", "--worker", "context")
    assert code == 0
    assert "export interface ContextSecrets {" in out
    assert "  readonly GOOGLE_CLIENT_ID: string | SecretsStoreSecret;" in out
    assert "Secret GOOGLE_OAUTH_CLIENT_ID." in out
    assert 'export const CONTEXT_SECRET_BINDINGS = ["ANTHROPIC_API_KEY",' in out
    assert out.count("readonly ") == 11
    assert cli("types", "--stack", "prod", "--worker", "dev")[0] == 1  # dev exists only in staging


# ---- accessor -------------------------------------------------------------------------------

ACCESSOR_CHECK = r"""
import { readSecret, withSecretMemo, MissingSecretError } from "./secrets.js";
const results = {};
results.string = await readSecret("plain", "A");
let calls = 0;
const store = { get: async () => { calls += 1; return "from-store"; } };
results.store = await readSecret(store, "B");
try { await readSecret(undefined, "MISSING_ONE"); } catch (e) { results.missing = [e.name, e.message, e instanceof MissingSecretError]; }
try { await readSecret({ get: async () => { throw new Error("not found"); } }, "GONE"); } catch (e) { results.gone = e.message; }
calls = 0;
let kvCalls = 0;
const env = { B: store, KV: { get: async (k) => { kvCalls += 1; return k; } }, S: "str" };
const request1 = withSecretMemo(env, ["B", "S"]);
await Promise.all([readSecret(request1.B, "B"), readSecret(request1.B, "B"), readSecret(request1.B, "B")]);
results.callsFirstRequest = calls;
const request2 = withSecretMemo(env, ["B", "S"]);
await readSecret(request2.B, "B");
results.callsAfterSecondRequest = calls;
await request1.KV.get("x"); await request1.KV.get("x");
results.kvCalls = kvCalls;
results.stringThroughMemo = await readSecret(request1.S, "S");
console.log(JSON.stringify(results));
"""


def test_accessor_dual_shape_memo_and_named_errors(tmp_path: Path) -> None:
    need_node()
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", tmp_path / "secrets.ts")
    proc = run([str(NODE_BIN / "tsc"), "--target", "es2022", "--module", "es2022", "--outDir", str(tmp_path),
                "--strict", str(tmp_path / "secrets.ts")], ROOT)
    assert proc.returncode == 0, proc.stdout
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "check.js").write_text(ACCESSOR_CHECK)
    proc = run(["node", str(tmp_path / "check.js")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["string"] == "plain" and r["store"] == "from-store"
    assert r["missing"][0] == "MissingSecretError" and "MISSING_ONE" in r["missing"][1] and r["missing"][2]
    assert "secret binding GONE" in r["gone"]
    assert r["callsFirstRequest"] == 1, "one .get() per binding per request"
    assert r["callsAfterSecondRequest"] == 2, "a new request reads again (rotation is seen)"
    assert r["kvCalls"] == 2, "bindings not listed (a KV namespace) pass through untouched"
    assert r["stringThroughMemo"] == "str"


# ---- codemod --------------------------------------------------------------------------------

def codemod(worker: Path, *extra: str) -> tuple[int, str, str]:
    return cli("codemod", str(worker / "src"), "--worker", "api", "--accessor", str(worker / "src" / "lib" / "secrets.ts"),
               *extra)


def test_codemod_diff_then_write_then_idempotent(worker: Path) -> None:
    before = {p: p.read_text() for p in (worker / "src").rglob("*.ts")}
    code, diff, report = codemod(worker)
    assert code == 0 and diff.startswith("--- a/")
    assert {p: p.read_text() for p in before} == before, "without --write nothing changes"
    assert ("codemod worker api: 12 secret read(s) found in 9 file(s), 11 rewritten now, 0 already through the accessor "
            "(91% through the accessor), 0 fallback argument(s) added; 2 site(s) left for a person; 6 file(s) would "
            "change") in report
    assert "slack.ts:6:10: SLACK_BOT_TOKEN: inside non-async function `slackConfigured`" in report
    assert "index.ts:27:43: (env): env object passed to `initTelemetry()`, outside the scanned files" in report
    assert codemod(worker, "--check")[0] == 1, "CI fails while sites are left or files would change"

    code, out, _ = codemod(worker, "--write")
    assert "11 rewritten now" in out and "6 file(s) changed" in out
    forms = (worker / "src" / "adapters" / "forms.ts").read_text()
    assert 'const byKey = await readSecret(env["SALESFORCE_CLIENT_ID"], "SALESFORCE_CLIENT_ID");' in forms
    assert 'const cast = await readSecret((env as any).SALESFORCE_CLIENT_SECRET, "SALESFORCE_CLIENT_SECRET");' in forms
    assert 'const renamed = async (e: Env) => (await readSecret(e.OPENAI_API_KEY, "OPENAI_API_KEY"));' in forms
    after = {p: p.read_text() for p in (worker / "src").rglob("*.ts")}
    code, out, _ = codemod(worker, "--write")
    assert "0 rewritten now, 11 already through the accessor" in out and "0 file(s) changed" in out
    assert {p: p.read_text() for p in after} == after
    assert codemod(worker, "--check")[0] == 1, "two sites are still left for a person"
    llm = (worker / "src" / "adapters" / "llm.ts").read_text()
    assert 'const anthropic = await readSecret(env.ANTHROPIC_API_KEY, "ANTHROPIC_API_KEY");' in llm
    assert 'import { readSecret } from "../lib/secrets";' in llm


@pytest.mark.parametrize("source,expected_reason", [
    ("const key = env.OPENAI_API_KEY;\n", "module scope"),
    ("class A { key = this.env.OPENAI_API_KEY; }\n", "class field initializer"),
    ("async function f(env) { const { OPENAI_API_KEY, ...rest } = env; }\n", "rest element"),
    ("async function f(env) { const { OPENAI_API_KEY = 'x' } = env; }\n", "default value"),
    ("function f(env) { return env.OPENAI_API_KEY; }\n", "non-async function `f`"),
    ("const f = (env) => env.OPENAI_API_KEY;\n", "non-async function `f`"),
    ("import { Client } from 'sdk';\nasync function f(env) { return new Client().start(env); }\n", "env object passed"),
])
def test_codemod_leaves_unsafe_sites(source: str, expected_reason: str, tmp_path: Path) -> None:
    result = rewrite_source(tmp_path / "a.ts", source, {"OPENAI_API_KEY"}, tmp_path / "lib" / "secrets.ts", set())
    assert result.after == source
    assert [s for s in result.sites if not s.rewritten and expected_reason in s.reason]


@pytest.mark.parametrize("source,expected", [
    ("async function f(env) { return env.OPENAI_API_KEY; }\n",
     'return await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY");'),
    ("const f = async (c) => { const k = c.env.OPENAI_API_KEY; };\n",
     'const k = await readSecret(c.env.OPENAI_API_KEY, "OPENAI_API_KEY");'),
    ("class A { async m() { return this.env.OPENAI_API_KEY.length; } }\n",
     'return (await readSecret(this.env.OPENAI_API_KEY, "OPENAI_API_KEY")).length;'),
    ("async function f(env) { if (typeof env.OPENAI_API_KEY === 'string') {} }\n", "typeof env.OPENAI_API_KEY"),
])
def test_codemod_rewrites_safe_sites(source: str, expected: str, tmp_path: Path) -> None:
    result = rewrite_source(tmp_path / "a.ts", source, {"OPENAI_API_KEY"}, tmp_path / "lib" / "secrets.ts", set())
    assert expected in result.after


KEY = "OPENAI_API_KEY"


@pytest.mark.parametrize("read,rewritten", [
    ('env["OPENAI_API_KEY"]', 'await readSecret(env["OPENAI_API_KEY"], "OPENAI_API_KEY")'),
    ("env['OPENAI_API_KEY']", "await readSecret(env['OPENAI_API_KEY'], \"OPENAI_API_KEY\")"),
    ("env[`OPENAI_API_KEY`]", 'await readSecret(env[`OPENAI_API_KEY`], "OPENAI_API_KEY")'),
    ("(env as any).OPENAI_API_KEY", 'await readSecret((env as any).OPENAI_API_KEY, "OPENAI_API_KEY")'),
    ("(env as unknown as Env).OPENAI_API_KEY", 'await readSecret((env as unknown as Env).OPENAI_API_KEY, "OPENAI_API_KEY")'),
    ("(<Env>env).OPENAI_API_KEY", 'await readSecret((<Env>env).OPENAI_API_KEY, "OPENAI_API_KEY")'),
    ("env!.OPENAI_API_KEY", 'await readSecret(env!.OPENAI_API_KEY, "OPENAI_API_KEY")'),
    ("(env satisfies Env).OPENAI_API_KEY", 'await readSecret((env satisfies Env).OPENAI_API_KEY, "OPENAI_API_KEY")'),
    ("bindings.OPENAI_API_KEY", 'await readSecret(bindings.OPENAI_API_KEY, "OPENAI_API_KEY")'),
], ids=["element", "element-single-quotes", "template-key", "as-any", "as-unknown-as", "angle-cast", "non-null",
        "satisfies", "renamed-parameter"])
def test_codemod_finds_and_routes_every_spelling_of_a_read(read: str, rewritten: str, tmp_path: Path) -> None:
    source = f"async function f(env: Env, bindings: Env) {{\n  const v = {read};\n}}\n"
    result = rewrite_source(tmp_path / "a.ts", source, {KEY}, tmp_path / "lib" / "secrets.ts", set(), {KEY})
    (site,) = result.sites
    assert (site.name, site.line, site.column, site.rewritten) == (KEY, 2, 13, True)
    fallback = "bindings" if read.startswith("bindings") else "env"
    assert f"  const v = {rewritten[:-1]}, {fallback}.OPENAI_API_KEY_FALLBACK);" in result.after
    again = rewrite_source(tmp_path / "a.ts", result.after, {KEY}, tmp_path / "lib" / "secrets.ts", set(), {KEY})
    assert again.after == result.after and [s.already for s in again.sites] == [True], "a second run is a no-op"


@pytest.mark.parametrize("source,reason", [
    ("async function f(env: Env) { return env?.OPENAI_API_KEY; }\n", "optional chaining (`?.`)"),
    ("async function f({ OPENAI_API_KEY }: Env) { return OPENAI_API_KEY; }\n", "destructured in the parameters of `f`"),
    ("const handler = async (e: Readonly<Env>) => { const { OPENAI_API_KEY = 'x' } = e; };\n", "default value"),
    ("function f(e: Env) { return e['OPENAI_API_KEY']; }\n", "non-async function `f`"),
])
def test_codemod_lists_what_it_leaves_with_where_and_why(source: str, reason: str, tmp_path: Path) -> None:
    result = rewrite_source(tmp_path / "a.ts", source, {KEY}, tmp_path / "lib" / "secrets.ts", set())
    assert result.after == source
    (site,) = result.sites
    assert site.name == KEY and not site.rewritten and reason in site.reason, site


def test_codemod_counts_what_it_did_and_checks_for_ci(tmp_path: Path, project: Path) -> None:
    """The coverage figure counts every read; a destructuring left alone is never counted as
    rewritten; a dynamic key is listed but is no named read; --check passes once all is routed."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "lib").mkdir()
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", src / "lib" / "secrets.ts")
    (src / "a.ts").write_text(
        "interface Bindings { OPENAI_API_KEY: string; ANTHROPIC_API_KEY: string }\n"
        "export async function a(env: Env, b: Bindings, name: string) {\n"
        "  const { OPENAI_API_KEY, ...rest } = env;\n"
        '  const x = b["ANTHROPIC_API_KEY"];\n'
        "  const y = env[name];\n"
        "  return [OPENAI_API_KEY, rest, x, y];\n"
        "}\n")
    args = ("codemod", str(src), "--worker", "api", "--accessor", str(src / "lib" / "secrets.ts"))
    code, _, err = cli(*args, project=project)
    assert code == 0
    assert err.splitlines()[0] == ("codemod worker api: 2 secret read(s) found in 1 file(s), 1 rewritten now, 0 already "
                                   "through the accessor (50% through the accessor), 0 fallback argument(s) added; 3 "
                                   "site(s) left for a person; 1 file(s) would change")
    assert err.splitlines()[1:] == [
        f"  {src / 'a.ts'}:3:9: OPENAI_API_KEY: destructuring with a rest element",
        f"  {src / 'a.ts'}:3:27: (env): the rest element `...rest` holds the env's other bindings, secrets among them: "
        "their reads are not visible here; route them by hand",
        f"  {src / 'a.ts'}:5:13: (dynamic): a key computed at run time (`env[name]`) may read a secret: route it through "
        "readSecret by hand"]
    assert cli(*args, "--check", project=project)[0] == 1
    (src / "a.ts").write_text(
        "export async function a(env: Env) {\n"
        '  return await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY");\n'
        "}\n")
    code, out, err = cli(*args, "--check", project=project)
    assert code == 0 and err == ("codemod worker api: nothing to change: 1 secret read(s) in 1 file(s), every one "
                                 "through the accessor (100%)\n")


def test_codemod_keeps_the_fallback_argument_on_destructured_reads(tmp_path: Path) -> None:
    source = "async function f(env: Env) {\n  const { OPENAI_API_KEY: key, CACHE } = env as Env;\n}\n"
    result = rewrite_source(tmp_path / "a.ts", source, {KEY}, tmp_path / "lib" / "secrets.ts", set(), {KEY})
    assert "  const { CACHE } = env as Env;\n  const key = await readSecret(env.OPENAI_API_KEY, \"OPENAI_API_KEY\", " \
           "env.OPENAI_API_KEY_FALLBACK);" in result.after


# ---- the proof: tsc, then the same code under miniflare with both binding shapes ----------------

def bundle(worker: Path) -> Path:
    proc = run([str(NODE_BIN / "wrangler"), "deploy", "--dry-run", "--outdir", "dist", "--env", ""], worker)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return worker / "dist" / "index.js"


def serve(worker: Path, bundle_path: Path, mode: str, tmp_path: Path) -> dict[str, str]:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({n: f"{CANARY_PREFIX}{n.lower()}" for n in API_SECRETS}))
    proc = run(["node", str(ROOT / "tests" / "worker_harness.mjs"), str(bundle_path), mode, str(values),
                json.dumps(ROUTES)], ROOT)
    assert proc.returncode == 0, proc.stderr
    answers: dict[str, str] = json.loads(proc.stdout)
    assert CANARY_PREFIX not in proc.stdout
    return answers


def test_migrated_worker_typechecks_and_serves_both_shapes_the_same(worker: Path, tmp_path: Path) -> None:
    need_node()
    # Before: strings only. Under Secrets Store bindings the unmigrated code breaks.
    legacy_before = serve(worker, bundle(worker), "legacy", tmp_path)
    store_before = serve(worker, bundle(worker), "store", tmp_path)
    assert legacy_before != store_before

    # Migrate: dual-shape typings from the manifest, then the codemod, then the person's fix.
    code, types_ts, _ = cli("types", "--stack", "prod", "--worker", "api")
    (worker / "src" / "secrets.generated.ts").write_text(types_ts)
    (worker / "src" / "env.ts").write_text(
        'import type { ApiSecrets } from "./secrets.generated";\n\n'
        "export interface Env extends ApiSecrets {\n  CACHE: KVNamespace;\n  ENVIRONMENT: string;\n}\n")
    codemod(worker, "--write")
    tsc = run([str(NODE_BIN / "tsc"), "-p", str(worker)], worker)
    assert tsc.returncode == 0, tsc.stdout

    after = bundle(worker)
    legacy_after = serve(worker, after, "legacy", tmp_path)
    store_after = serve(worker, after, "store", tmp_path)
    assert legacy_after == store_after == legacy_before
    assert all(answer.startswith("200 ") for answer in store_after.values())


# ---- phased adoption: the fallback copy ----------------------------------------------------------

def with_openai_fallback(project: Path) -> None:
    path = project / "secrets_manifest.yaml"
    path.write_text(path.read_text().replace("    description: OpenAI API key (also AI Gateway BYOK)\n",
                                             "    description: OpenAI API key (also AI Gateway BYOK)\n    backend: store\n"
                                             "    fallback: true\n"))


def test_types_declare_the_fallback_copy_as_optional(project: Path) -> None:
    with_openai_fallback(project)
    code, out, _ = cli("types", "--stack", "prod", "--worker", "api", project=project)
    assert code == 0
    assert "  readonly OPENAI_API_KEY: string | SecretsStoreSecret;" in out
    assert "  readonly OPENAI_API_KEY_FALLBACK?: string;" in out
    assert "ANTHROPIC_API_KEY_FALLBACK" not in out
    assert '"OPENAI_API_KEY_FALLBACK"' not in out.split("export const")[1], "the name list holds bindings, not copies"


def test_codemod_passes_the_fallback_copy_and_upgrades_earlier_reads(tmp_path: Path, project: Path) -> None:
    with_openai_fallback(project)
    from stacks.core.estate import load_estate
    from stacks.worker_kit.worker_types import fallback_copies

    copies = fallback_copies(load_estate(project), "api")
    assert copies == {"OPENAI_API_KEY"}
    source = ("async function f(env) {\n  const a = env.OPENAI_API_KEY;\n  const b = env.ANTHROPIC_API_KEY;\n"
              '  const c = await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY");\n}\n')
    names = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
    result = rewrite_source(tmp_path / "a.ts", source, names, tmp_path / "lib" / "secrets.ts", set(), copies)
    assert 'const a = await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY", env.OPENAI_API_KEY_FALLBACK);' in result.after
    assert 'const b = await readSecret(env.ANTHROPIC_API_KEY, "ANTHROPIC_API_KEY");' in result.after
    assert 'const c = await readSecret(env.OPENAI_API_KEY, "OPENAI_API_KEY", env.OPENAI_API_KEY_FALLBACK);' in result.after
    again = rewrite_source(tmp_path / "a.ts", result.after, names, tmp_path / "lib" / "secrets.ts", set(), copies)
    assert again.after == result.after, "a second run changes nothing"


def test_accessor_falls_back_under_miniflare_with_one_warning(tmp_path: Path) -> None:
    """In workerd: a working store binding; one whose .get() throws (the fallback copy is used and
    one warning names the binding, however many requests); an absent binding with a copy; and
    neither (MissingSecretError naming it). No warning carries a value."""
    need_node()
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", tmp_path / "secrets.ts")
    proc = run([str(NODE_BIN / "tsc"), "--target", "es2022", "--module", "es2022", "--outDir", str(tmp_path),
                "--strict", str(tmp_path / "secrets.ts")], ROOT)
    assert proc.returncode == 0, proc.stdout
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"store": CANARY_PREFIX + "store", "copy": CANARY_PREFIX + "copy"}))
    proc = run(["node", str(ROOT / "tests" / "accessor_harness.mjs"), str(tmp_path), str(values)], ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    answers, warnings = result["answers"], result["warnings"]
    assert answers["STORE_OK"] == ["200 store"]
    assert answers["STORE_BROKEN"] == ["200 fallback", "200 fallback"]
    assert answers["ABSENT"] == ["200 fallback", "200 fallback"]
    name, message, is_missing = json.loads(answers["NOTHING"][0].split(" ", 1)[1])
    assert (name, is_missing) == ("MissingSecretError", True) and "secret binding NOTHING" in message
    assert len(warnings) == 2, "one warning per binding per isolate, not one per request"
    assert warnings[0].startswith("secrets-plane: STORE_BROKEN: the store secret could not be read")
    assert warnings[1] == "secrets-plane: ABSENT: no such binding on this Worker; using its fallback copy ABSENT_FALLBACK"
    assert CANARY_PREFIX not in json.dumps(warnings)


def test_candidates_give_both_values_in_a_window_and_a_signature_with_either_verifies(tmp_path: Path) -> None:
    """In workerd: readSecretCandidates on a store binding and on a string binding rotated with
    overlap gives [new, old]; outside a window (_PREVIOUS equal) just [value]. The worked example
    verifies a signature made with either value, refuses one made with any other, signs with the
    new one."""
    need_node()
    shutil.copytree(ROOT / "worker-kit", tmp_path / "src")
    proc = run([str(NODE_BIN / "tsc"), "--target", "es2022", "--module", "es2022", "--outDir", str(tmp_path),
                "--rootDir", str(tmp_path / "src"), "--strict", str(tmp_path / "src" / "secrets.ts"),
                str(tmp_path / "src" / "examples" / "verify-webhook.ts")], ROOT)
    assert proc.returncode == 0, proc.stdout
    new, old, other = CANARY_PREFIX + "new-key", CANARY_PREFIX + "old-key", CANARY_PREFIX + "someone-else"
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"new": new, "old": old, "other": other, "body": '{"event":"paid"}'}))
    proc = run(["node", str(ROOT / "tests" / "overlap_harness.mjs"), str(tmp_path), str(values)], ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["candidates"] == {"WEBHOOK": [new, old], "SLACK": [new, old], "SAME": [new]}
    assert result["verified"] == {
        "WEBHOOK:new": "current", "WEBHOOK:old": "previous", "WEBHOOK:other": None,
        "SLACK:new": "current", "SLACK:old": "previous", "SLACK:other": None,
        "SAME:new": "current", "SAME:old": None, "SAME:other": None,
    }
    assert result["signedWithNew"] is True
    assert result["example"] == {"new": "200 ok", "old": "200 ok", "other": "401 bad signature"}


def test_types_declare_the_previous_binding_of_a_secret_with_overlap(project: Path) -> None:
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["WEBHOOK_SIGNING_SECRET"]["overlap_days"] = 14
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, _ = cli("types", "--stack", "prod", "--worker", "api", project=project)
    assert code == 0
    assert "  readonly WEBHOOK_SIGNING_SECRET_PREVIOUS: string | SecretsStoreSecret;" in out
    assert "readSecretCandidates(env, \"NAME\")" in out
    assert '"WEBHOOK_SIGNING_SECRET", "WEBHOOK_SIGNING_SECRET_PREVIOUS"]' in out, "memoized like its binding"
    assert "SLACK_SIGNING_SECRET_PREVIOUS" not in out


def test_sync_never_writes_through_a_linked_wrangler_config(worker: Path, project: Path) -> None:
    """A wrangler.toml that is a link (to a shared file elsewhere) is read, never written through."""
    pin(project, "staging", "store")
    shared = project / "shared-wrangler.toml"
    (worker / "wrangler.toml").rename(shared)
    (worker / "wrangler.toml").symlink_to(shared)
    original = shared.read_text()
    code, _, err = cli("wrangler", "sync", "--stack", "staging", "--worker", "api", "--config",
                       str(worker / "wrangler.toml"), "--env", "staging", project=project)
    assert code == 1 and "is a symbolic link" in err, err
    assert shared.read_text() == original and (worker / "wrangler.toml").is_symlink()
