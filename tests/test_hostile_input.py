"""Hostile input, each case as a reviewer tried it (issue 29): a value is never printed, written to
a draft or taken for a name; every generated or rendered output escapes for its language; files
go where they belong, made safely; no pull-request job reaches production's credentials; the API
token goes where it should; parsers have limits. SECURITY.md points at each test here."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ACCOUNT, CANARY_PREFIX, NODE_ENV, ROOT, canary, leak_scan, need_node
from fake_cloudflare import Fault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_host import HostError
from test_worker_bindings import UNMANAGED, legacy_props

from stacks.cli import main
from stacks.core.changes import StackChanges, WorkerChange, render_markdown

WORKFLOW = ROOT / ".github" / "workflows" / "secrets-plane.yml"
ESC = "\x1b"


def cli(project: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """The command in this process (stdout and stderr together), checked for canary values."""
    out = io.StringIO()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                code = main(["--project-dir", str(project), *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        sys.stdin = saved
    return code, leak_scan(out.getvalue())


def run(*args: str, stdin: str = "", cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point, in its own process."""
    proc = subprocess.run([sys.executable, "-m", "stacks", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)
    leak_scan(proc.stdout + proc.stderr)
    return proc


def edit_manifest(project: Path, change: Any) -> None:
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# A pasted RSA key, the way people paste one: after NAME= without quotes, its lines one below another.
PEM = f"-----BEGIN PRIVATE KEY-----\n{canary('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')}\n{canary('AAOCAQ8AMIIBCgKCAQEAx')}==\n" \
      "-----END PRIVATE KEY-----"


# ---- a value is never printed, drafted or taken for a name --------------------------------------

HOSTILE_DOTENV = [
    ("a token pasted on its own line", f"OPENAI_API_KEY=a\n{canary('sk_live_pasted')}\n", 2, "not shown"),
    ("a PEM key left unquoted", f"OPENAI_API_KEY=a\nSLACK_BOT_TOKEN={PEM}\n", 2, "a PEM block written across lines"),
    ("the padding line of a key", f"OPENAI_API_KEY=a\n{canary('AAOCAQ8AMIIBCgKCAQEAx')}==\n", 2, "not shown"),
    ("a value with nothing after '='", f"OPENAI_API_KEY=a\n{canary('xyz')}=\n", 2, "not shown"),
]


@pytest.mark.parametrize("what,text,line,said", HOSTILE_DOTENV, ids=[c[0] for c in HOSTILE_DOTENV])
def test_values_load_reports_a_line_that_is_not_a_name_by_its_number(project: Path, what: str, text: str,
                                                                     line: int, said: str) -> None:
    code, out = cli(project, "values", "load", "-", "--stack", "staging", "--dry-run", stdin=text)
    assert code == 1 and CANARY_PREFIX not in out, out
    assert f"<stdin>:{line}: " in out and said in out, out


@pytest.mark.parametrize("what,text,line,said", HOSTILE_DOTENV, ids=[c[0] for c in HOSTILE_DOTENV])
def test_dev_reports_it_by_its_number_too_and_writes_nothing(project: Path, what: str, text: str, line: int,
                                                             said: str) -> None:
    folder = project / "w"
    folder.mkdir()
    code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder), "--placeholders",
                    stdin=text)
    assert code == 1 and CANARY_PREFIX not in out, out
    assert out.count(f"<stdin>:{line}: ") == 1, out
    assert list(folder.iterdir()) == []


def test_init_takes_no_line_of_a_dev_vars_for_a_name(tmp_path: Path) -> None:
    worker = tmp_path / "api"
    worker.mkdir()
    (worker / "wrangler.toml").write_text('name = "ascend-v5"\n')
    (worker / ".dev.vars").write_text(f"GONG_ACCESS_KEY=local\n{canary('pasted')}\nTLS_KEY={PEM}\n"
                                      f"{canary('tail')}==\nAPOLLO_API_KEY=ok\n")
    proc = run("init", "--from-wrangler", str(worker / "wrangler.toml"), "--stacks", "prod", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert CANARY_PREFIX not in proc.stdout + proc.stderr
    secrets = yaml.safe_load(proc.stdout)["secrets"]
    assert set(secrets) == {"GONG_ACCESS_KEY", "APOLLO_API_KEY"}, "only NAME=value lines name a secret"
    assert f"{worker / '.dev.vars'}: line 2 is not a NAME=value line" in proc.stderr
    assert f"{worker / '.dev.vars'}: the value at line 3 is a PEM block" in proc.stderr


def test_a_value_typed_where_a_name_goes_is_not_echoed(project: Path) -> None:
    code, out = cli(project, "rotate", canary("sk_live_typed_as_name"), "--stack", "staging", "--dry-run",
                    stdin="x")
    assert code == 1 and CANARY_PREFIX not in out and "it may be a value typed in the wrong place" in out
    # A near miss of a name is still named, with the fix.
    code, out = cli(project, "rotate", "OPENAI_APIKEY", "--stack", "staging", "--dry-run", stdin="x")
    assert code == 1 and "no secret 'OPENAI_APIKEY' in the manifest (fix: did you mean 'OPENAI_API_KEY'?)" in out
    code, out = cli(project, "values", "load", canary("sk_live_as_file"), "--stack", "staging", "--dry-run")
    assert code == 1 and CANARY_PREFIX not in out, out


@pytest.mark.parametrize("argv,said", [
    (["rotate", "OPENAI_API_KEY", canary("sk_live_extra"), "--stack", "staging", "--dry-run"],
     "1 unexpected argument(s), at position(s) 3 of 6"),
    (["rotate", "OPENAI_API_KEY", "--stack", "staging", canary("a"), canary("b")],
     "2 unexpected argument(s), at position(s) 5, 6 of 6"),
    (["plan", "--stack", "staging", "--format", canary("as_a_choice")], "argument --format: not one of its choices"),
    (["canary", "--stack", "staging", "--wait", canary("as_a_number")], "argument --wait: not a valid float value"),
    ([canary("as_a_command")], "argument command: not one of its choices"),
])
def test_argument_errors_never_echo_what_was_typed(argv: list[str], said: str) -> None:
    for entry in ([sys.executable, "-m", "stacks"], [str(Path(sys.executable).parent / "secrets-plane")]):
        proc = subprocess.run([*entry, *argv], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 2
        assert CANARY_PREFIX not in leak_scan(proc.stdout + proc.stderr), proc.stderr
        assert said in proc.stderr and proc.stderr.startswith("usage: "), proc.stderr


# ---- outputs escape what they interpolate -------------------------------------------------------

INJECTED = "x */ }; globalThis.PWNED = 1; export interface Z { /* \u2028 globalThis.PWNED = 2; // "


def test_types_keep_manifest_text_out_of_the_code(project: Path, tmp_path: Path) -> None:
    """The typings are compiled by TypeScript and run: nothing from the manifest executes."""
    need_node()
    edit_manifest(project, lambda d: d["secrets"]["OPENAI_API_KEY"].update(description=INJECTED, owner="a\nb */ c"))
    code, out = cli(project, "types", "--stack", "staging", "--worker", "api")
    assert code == 0, out
    assert "*/ globalThis" not in out and "\u2028" not in out
    source = tmp_path / "secrets.generated.ts"
    source.write_text(out)
    # As wrangler bundles it: esbuild strips the types without a check, and the rest runs.
    check = tmp_path / "run.cjs"
    check.write_text(f"const esbuild = require({json.dumps(str(ROOT / 'node_modules' / 'esbuild'))});\n"
                     "const js = esbuild.transformSync(require('fs').readFileSync(process.argv[2], 'utf8'),\n"
                     "  {loader: 'ts', format: 'cjs'}).code;\n"
                     "new Function('exports', 'require', 'module', js)({}, require, {exports: {}});\n"
                     "process.stdout.write(String(globalThis.PWNED));\n")
    proc = subprocess.run(["node", str(check), str(source)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=NODE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "undefined", "manifest text ran as code"


def outside_code_spans(markdown: str) -> str:
    """The text of a Markdown document outside its code spans (CommonMark: a run of n backticks
    opens a span that the next run of exactly n backticks closes)."""
    out, i = [], 0
    while i < len(markdown):
        run_ = re.match(r"`+", markdown[i:])
        if run_:
            fence = run_.group()
            close = re.search(rf"(?<!`){fence}(?!`)", markdown[i + len(fence):])
            if close:
                i += len(fence) + close.end()
                continue
        out.append(markdown[i])
        i += 1
    return "".join(out)


def test_the_markdown_diff_keeps_names_in_code_and_pings_nobody() -> None:
    hostile = StackChanges("staging", workers=[
        WorkerChange("a<!--", "x-staging", "added", added=["A (secret_text)"], write="secrets-bulk", versions=1),
        WorkerChange("b", "b-staging", "added", added=["NEW_SECRET (secret_text)", "OTHER (secret_text)"],
                     write="secrets-bulk", versions=1),
    ], metadata=["OPENAI_API_KEY: owner ai-platform -> @acme/security-team", "X: description `a` -> b``c"],
        store="creates store '<img src=x onerror=alert(1)> @acme' in account a")
    markdown = render_markdown(hostile)
    prose = outside_code_spans(markdown)
    assert not re.search(r"(?<!\\)<", prose), "a `<` outside a code span that is not escaped opens HTML"
    assert not re.search(r"@[A-Za-z0-9]", prose), "an @mention outside a code span pings someone"
    assert "NEW_SECRET" in markdown and "OTHER" in markdown, "what follows a hostile name is still there"
    assert "```X: description `a` -> b``c```" in markdown, "the fence is longer than any run inside"


def test_a_worker_key_that_would_hide_the_diff_is_refused(project: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    edit_manifest(project, lambda d: d["workers"].update({"a<!--": {**d["workers"]["dev"], "script_name": "x-{stack}"}}))
    code, out = cli(project, "diff", "--base", "main", "--format", "markdown")
    assert code == 1 and "Worker key 'a<!--' is not a valid key" in out, out


@pytest.mark.parametrize("key,said", [
    ("SLACK_BOT_TOKEN\n", "secret name 'SLACK_BOT_TOKEN\\n' is not accepted by Secrets Store"),
    ("SLАCK_BOT_TOKEN", "(it holds U+0410, which is not ASCII)"),  # a Cyrillic A
    ("slack_bot_token", "secret name 'slack_bot_token' is too like 'SLACK_BOT_TOKEN' to tell apart"),
    ("SLACK-BOT-TOKEN", "secret name 'SLACK-BOT-TOKEN' is too like 'SLACK_BOT_TOKEN' to tell apart"),
])
def test_secret_names_match_in_full_in_ascii_and_are_not_twins(project: Path, key: str, said: str) -> None:
    edit_manifest(project, lambda d: d["secrets"].update({key: dict(d["secrets"]["SLACK_BOT_TOKEN"])}))
    code, out = cli(project, "validate")
    assert code == 1 and said in out, out


@pytest.mark.parametrize("key,said", [
    ("аpi", "Worker key 'аpi' is not a valid key (it holds U+0430, which is not ASCII)"),  # a Cyrillic a
    ("API", "Worker key 'API' is too like 'api' to tell apart"),
    ("api\n", "Worker key 'api\\n' is not a valid key"),
    (f"api{ESC}[2J", "Worker key 'api\\x1b[2J' is not a valid key"),
])
def test_worker_keys_are_ascii_full_matches_without_twins_and_reach_no_terminal_raw(project: Path, key: str,
                                                                                     said: str) -> None:
    edit_manifest(project, lambda d: d["workers"].update({key: d["workers"]["dev"]}))
    code, out = cli(project, "validate")
    assert code == 1 and said in out, out
    assert ESC not in out


def test_api_text_reaches_the_terminal_as_text(api: Any, project: Path) -> None:
    """A live Worker's binding names are the account's, not the plane's: control characters in
    them are shown as escapes, in every command that prints them."""
    api.add_script(ACCOUNT, "ascend-v5", [{"type": "secret_text", "name": f"X{ESC}]0;owned{ESC}\\\x07\r\x9b2J"}])
    code, out = cli(project, "audit", "--stack", "prod")
    assert ESC not in out and "\x07" not in out and "\r" not in out and "\x9b" not in out
    assert "X\\x1b]0;owned" in out


def test_import_writes_api_names_as_quoted_yaml(api: Any, project: Path) -> None:
    hostile = ["EVIL: x\n    injected: true", "yes", "#comment", "a\"b\\c"]
    api.add_script(ACCOUNT, "ascend-billing", [{"type": "secret_text", "name": n, "text": canary(n)} for n in hostile])
    code, out = cli(project, "import", "--stack", "prod", "--worker", "billing", "--script", "ascend-billing")
    assert code == 0, out
    text = out[out.index("# Draft"):]
    draft = yaml.safe_load(text)
    assert set(draft["secrets"]) == set(hostile) and draft["workers"]["billing"]["secrets"] == sorted(hostile)


# ---- the API's echo of a request never carries a value -------------------------------------------

ECHOED_VALUES = [canary('pem-"quoted"-\\back\\slash-\nline2-') + "x" * 20,
                 canary("json-{\"type\":\"service_account\",\"private_key\":\"-----BEGIN\\n...\"}")]


def test_an_echoed_request_is_scrubbed_in_every_encoding(host: Any, fake: Any) -> None:
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    for value in ECHOED_VALUES:
        rotated = legacy_props("w", ["A", "B"])
        rotated["values"]["A"] = value
        fake.faults.append(Fault("PATCH", r"/secrets-bulk$", kind="echo", status=400, times=99))
        with pytest.raises(HostError) as info:
            host.up("w", state, rotated)
        fake.faults.clear()
        assert CANARY_PREFIX not in leak_scan(info.value.details), info.value.details
        assert "10021" in info.value.details, "the API's own code is still reported"


def _api_error(message: str) -> Exception:
    import cloudflare

    request = httpx.Request("PATCH", "http://127.0.0.1/client/v4/x")  # built, never sent
    response = httpx.Response(400, request=request, json={"errors": [{"code": 10021, "message": message}]})
    return cloudflare.BadRequestError(message, response=response,
                                      body={"errors": [{"code": 10021, "message": message}]})


@pytest.mark.parametrize("form", ["url", "url-plus", "json-ascii", "cut-short", "terminal"])
def test_the_scrub_covers_url_encoding_a_cut_and_terminal_sequences(form: str) -> None:
    from stacks.api.client import describe_failure

    value = canary("ünïcode / key=with&query+chars\n") + "tail-of-the-value"
    echoed = {"url": urllib.parse.quote(value, safe=""), "url-plus": urllib.parse.quote_plus(value),
              "json-ascii": json.dumps(value)[1:-1], "cut-short": value[:30],
              "terminal": f"{ESC}[2J{ESC}]0;title\x07"}[form]
    error = describe_failure(_api_error(f"bad body: text={echoed}"), "rotating", "Worker w", "", secrets=[value])
    text = str(error)
    assert CANARY_PREFIX not in leak_scan(text) and ESC not in text and "\x07" not in text, text
    assert "10021" in text


# ---- files go where they belong, made safely ----------------------------------------------------

def test_dev_never_writes_through_a_linked_dev_vars(project: Path) -> None:
    folder = project / "w"
    public = project / "public"
    folder.mkdir()
    public.mkdir()
    (public / "robots.txt").write_text("User-agent: *\n")
    (folder / ".dev.vars").symlink_to(public / "robots.txt")
    code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder),
                    stdin=f"OPENAI_API_KEY={canary('o')}\n" + "".join(f"{n}=v\n" for n in _api_secrets(project)))
    assert code == 1 and "is a symbolic link" in out, out
    assert (public / "robots.txt").read_text() == "User-agent: *\n"


def _api_secrets(project: Path) -> list[str]:
    data = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
    return [s for s in data["workers"]["api"]["secrets"] if s != "OPENAI_API_KEY"] + list(
        data["workers"]["api"].get("bindings", {}).values())


def test_dev_vars_is_created_private_not_chmod_ed_after(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project / "w"
    folder.mkdir()
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)  # a mode set after the write is too late
    old = os.umask(0o022)
    try:
        code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder), "--placeholders",
                        stdin="")
    finally:
        os.umask(old)
    assert code == 0, out
    assert stat.S_IMODE((folder / ".dev.vars").stat().st_mode) == 0o600


@pytest.mark.parametrize("config", ["/etc/wrangler.toml", "../outside/wrangler.toml", "a/../../wrangler.toml"])
def test_a_wrangler_path_outside_the_project_is_refused_at_validate(project: Path, config: str) -> None:
    edit_manifest(project, lambda d: d["workers"]["api"].update(wrangler={"config": config}))
    code, out = cli(project, "validate")
    assert code == 1 and "the wrangler config of Worker 'api' is outside the project" in out, out


@pytest.mark.parametrize("command", [["dev", "--placeholders"], ["types"]])
def test_a_link_out_of_the_project_is_refused_before_anything_is_written(project: Path, tmp_path: Path,
                                                                          command: list[str]) -> None:
    outside = tmp_path / "outside"
    (outside / "src").mkdir(parents=True)
    (outside / "wrangler.toml").write_text('name = "ascend-v5"\n')
    (project / "linked").symlink_to(outside)
    edit_manifest(project, lambda d: d["workers"]["api"].update(wrangler={"config": "linked/wrangler.toml"}))
    code, out = cli(project, command[0], "--stack", "prod", "--all", *command[1:], stdin="")
    assert code == 1 and "this path leads outside the project" in out, out
    assert sorted(p.name for p in outside.rglob("*")) == ["src", "wrangler.toml"]


def test_init_never_follows_a_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "wrangler.toml").write_text('name = "ascend-v5"\n')
    target = tmp_path / "elsewhere.yaml"
    (tmp_path / "secrets_manifest.yaml").symlink_to(target)
    proc = run("init", "--from-wrangler", "api/wrangler.toml", "--output", "secrets_manifest.yaml", cwd=tmp_path)
    assert proc.returncode == 1 and "init never overwrites a manifest" in proc.stderr
    assert not target.exists()


def test_overview_output_is_not_overwritten_without_force(project: Path) -> None:
    page = project / "overview.html"
    page.write_text("mine\n")
    code, out = cli(project, "overview", "--format", "html", "--output", str(page))
    assert code == 1 and "pass --force to replace it" in out and page.read_text() == "mine\n"
    code, out = cli(project, "overview", "--format", "html", "--output", str(page), "--force")
    assert code == 0 and page.read_text().startswith("<!doctype html>")


# Every character class of a value, and the line wrangler reads it from.
CLASSES = {
    "OPENAI_API_KEY": "it's a \"mixed\" `quote` value",
    "ANTHROPIC_API_KEY": "back\\slash and a literal \\n and \\r",
    "HUBSPOT_ACCESS_TOKEN": "ends with a backslash\\",
    "GOOGLE_OAUTH_CLIENT_ID": "two\nlines with ' and \"",
    "GOOGLE_OAUTH_CLIENT_SECRET": "a literal \\n beside\na real newline",
    "SLACK_BOT_TOKEN": "#starts with a hash # and has # inside",
    "SLACK_SIGNING_SECRET": "$HOME ${PATH} $(id) `id`",
    "SALESFORCE_CLIENT_ID": "  leading and trailing spaces  ",
    "SALESFORCE_CLIENT_SECRET": "k=v=w==",
    "APOLLO_API_KEY": "ünïcödé ✓ 🙂 עברית \u200f",
    "AWS_EXPORTS_ACCESS_KEY_ID": "'single-quoted'",
    "AWS_EXPORTS_SECRET_ACCESS_KEY": '"double-quoted"',
    "AWS_SES_ACCESS_KEY_ID": "carriage\rreturn",
    "AWS_SES_SECRET_ACCESS_KEY": "\ttab\tinside\t",
    "GONG_ACCESS_KEY": "export X=1",
    "GONG_ACCESS_KEY_SECRET": PEM.replace(CANARY_PREFIX, "not-a-canary-"),
    "TOKEN_ENCRYPTION_KEY": "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN\\n...\"}",
    "WEBHOOK_SIGNING_SECRET": "\\",
}


def read_back(folder: Path, expected: dict[str, str]) -> dict[str, str]:
    need_node()
    proc = subprocess.run(["node", str(ROOT / "tests" / "dev_vars_harness.mjs"), str(folder)],
                          input=json.dumps(expected), capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=NODE_ENV)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_dev_vars_lines_read_back_through_wrangler_for_every_character_class(project: Path) -> None:
    folder = project / "w"
    folder.mkdir()
    (folder / ".dev.vars").write_text("# mine\nDEBUG='1'\n")
    code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder), "--placeholders",
                    stdin=json.dumps(CLASSES))
    assert code == 0, out
    bound = {n for n in CLASSES if f"{n}=" in (folder / ".dev.vars").read_text()}
    assert len(bound) >= 15, bound
    seen = read_back(folder, {**{n: CLASSES[n] for n in bound}, "DEBUG": "1"})
    assert seen == {n: "equal" for n in [*bound, "DEBUG"]}, seen
    # Run again: the plane's lines are found and replaced, the person's kept.
    code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder), "--placeholders",
                    stdin=json.dumps(CLASSES))
    assert code == 0 and "1 other line(s) kept" in out
    assert read_back(folder, {n: CLASSES[n] for n in bound}) == {n: "equal" for n in bound}


def test_a_value_no_line_can_carry_is_refused_by_name(project: Path) -> None:
    folder = project / "w"
    folder.mkdir()
    code, out = cli(project, "dev", "--stack", "staging", "--worker", "api", "--dir", str(folder), "--placeholders",
                    stdin=json.dumps({"OPENAI_API_KEY": canary("'\"`\n\\n")}))
    assert code == 1 and "the value for 'OPENAI_API_KEY' cannot be written so wrangler reads it back" in out, out
    assert list(folder.iterdir()) == []


TRICKY = st.lists(st.sampled_from(list("ab '\"`\\\n\r\t#=$ {}ü🙂\u2028\ufeff") + ["\\n", "\\r", "-----"]),
                  min_size=1, max_size=12).map("".join)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(TRICKY, min_size=40, max_size=40))
def test_every_line_the_grammar_writes_reads_back_through_wrangler(tmp_path: Path, values: list[str]) -> None:
    import tempfile

    from stacks.worker_kit import dev_vars

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    writable = {}
    for i, value in enumerate(values):
        try:
            dev_vars.line(f"V{i}", value)
        except dev_vars.Unwritable:
            continue
        writable[f"V{i}"] = value
    while True:  # a rare file where every form of a value runs on into the next lines: that value is refused
        try:
            text = dev_vars.render("", writable)
            break
        except dev_vars.Unwritable as exc:
            del writable[exc.name]
    assert len(writable) >= 20
    (folder / ".dev.vars").write_text(text)
    assert read_back(folder, writable) == {n: "equal" for n in writable}
    shutil.rmtree(folder)


# ---- the pipeline ---------------------------------------------------------------------------------

def _jobs() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text())["jobs"])


def _runs_on_pull_requests(name: str, jobs: dict[str, Any]) -> bool:
    job = jobs[name]
    if any(f"github.event_name == '{event}'" in str(job.get("if", "")) for event in ("push", "schedule")):
        return False
    needs = job.get("needs") or []
    return all(_runs_on_pull_requests(n, jobs) for n in ([needs] if isinstance(needs, str) else needs))


def test_no_pull_request_job_can_reach_production_credentials() -> None:
    jobs = _jobs()
    on_pr = [n for n in jobs if _runs_on_pull_requests(n, jobs)]
    assert {"test", "diff", "preview"} <= set(on_pr)
    for name in on_pr:
        text = yaml.safe_dump(jobs[name])
        secrets = set(re.findall(r"secrets\.([A-Z_]+)", text))
        environment = jobs[name].get("environment")
        assert "prod" not in re.findall(r"--stack (\S+)|secrets-plane/(\w+)", text) and "/prod" not in text, name
        assert "matrix" not in jobs[name].get("strategy", {}) or "prod" not in str(jobs[name]["strategy"]), name
        if environment is None:
            assert secrets <= {"GITHUB_TOKEN"}, (name, secrets)
        else:
            assert environment == "staging-preview", (name, environment)
            assert "CLOUDFLARE_API_TOKEN" not in secrets, "no apply token in a pull request"
    # Production's review on a pull request is the offline diff: no token at all.
    assert "stacks diff --base" in yaml.safe_dump(jobs["diff"]) and not set(
        re.findall(r"secrets\.([A-Z_]+)", yaml.safe_dump(jobs["diff"]))) - {"GITHUB_TOKEN"}
    # Every job that names production runs after merge, in a protected environment.
    for name, job in jobs.items():
        if "/prod" in yaml.safe_dump(job) or "--stack prod" in yaml.safe_dump(job):
            assert name not in on_pr and job.get("environment") in ("production-preview", "production"), name
    assert jobs["production"]["needs"] == "production-preview"


def test_the_comment_updated_is_the_bots_own() -> None:
    step = next(s for s in _jobs()["diff"]["steps"] if "--method PATCH" in s.get("run", ""))
    found = re.search(r'--jq "(.*?)" \\', step["run"])
    assert found, step["run"]
    marker = "<!-- secrets-plane:diff -->"
    jq_filter = found.group(1).replace('\\"', '"').replace("$marker", marker)
    comments = [{"id": 1, "user": {"login": "mallory"}, "body": marker + " mine now"},
                {"id": 2, "user": {"login": "github-actions[bot]"}, "body": "another bot comment"},
                {"id": 3, "user": {"login": "github-actions[bot]"}, "body": marker + "\n### secrets-plane"}]
    jq = shutil.which("jq")
    if jq is None:
        pytest.fail("jq is required (scripts/test.sh installs it): gh runs this filter with the same language")
    proc = subprocess.run([jq, jq_filter], input=json.dumps(comments), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3"]


# ---- where the token goes ------------------------------------------------------------------------

@pytest.mark.parametrize("url,said", [
    ("http://10.1.2.3/client/v4", "CLOUDFLARE_BASE_URL is plain http to http://10.1.2.3, which is not a loopback"),
    ("http://localhost:8787/client/v4", "which is not a loopback address"),
    ("ftp://127.0.0.1/client/v4", "CLOUDFLARE_BASE_URL must be an https URL"),
    ("https://user:pw@api.example.com/client/v4", "CLOUDFLARE_BASE_URL carries a user name or password"),
])
def test_the_token_goes_nowhere_unsafe(project: Path, monkeypatch: pytest.MonkeyPatch, url: str, said: str) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", url)
    code, out = cli(project, "preflight", "--stack", "staging")
    assert code == 1 and said in out, out


def test_another_https_host_or_an_opt_in_says_where_the_token_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks.api import base_url

    notes = io.StringIO()
    assert base_url.checked_base_url("https://proxy.example.com/client/v4", notes)
    assert base_url.checked_base_url("http://127.0.0.1:9/client/v4", notes)
    monkeypatch.setenv(base_url.OPT_IN, "1")
    assert base_url.checked_base_url("http://10.1.2.3/client/v4", notes)
    assert notes.getvalue().splitlines() == [
        "note: CLOUDFLARE_BASE_URL sends the API token to https://proxy.example.com, not api.cloudflare.com",
        "note: CLOUDFLARE_BASE_URL sends the API token over plain http to http://10.1.2.3 "
        "(SECRETS_PLANE_ALLOW_INSECURE_BASE_URL=1)"]


def test_the_program_refuses_it_before_the_cloudflare_provider_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi
    from conftest import stack_config

    from stacks.resources.offline import run_program

    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "http://10.1.2.3/client/v4")
    with pytest.raises(pulumi.RunError) as info:
        run_program(ROOT, "staging", stack_config("staging"), ["secrets-plane:values"])
    assert "CLOUDFLARE_BASE_URL is plain http to http://10.1.2.3" in str(info.value)


# ---- parsers have limits ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["flow", "block"])
def test_a_manifest_nested_30000_deep_is_an_error_not_a_crash(project: Path, shape: str) -> None:
    deep = "a: " + "[" * 30_000 + "]" * 30_000 + "\n" if shape == "flow" else "- " * 30_000 + "x\n"
    (project / "secrets_manifest.yaml").write_text(deep)
    proc = run("--project-dir", str(project), "validate")
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-300:])
    assert "secrets_manifest.yaml:1: error: YAML nesting is too deep (fix: keep nesting under 64 levels)" in proc.stderr


@pytest.mark.parametrize("text,said", [
    ('{"OPENAI_API_KEY": "a",\n "OPENAI_API_KEY": "b"}', "<stdin>:2: OPENAI_API_KEY: error: duplicate key "
                                                          "'OPENAI_API_KEY' (first at line 1)"),
    ('{"OPENAI_API_KEY": ' + "[" * 100_000 + "]" * 100_000 + "}", "<stdin>:1: error: JSON nesting is too deep"),
    ('{"OPENAI_API_KEY": "' + "x" * (1024 * 1024) + '"}', "bytes, over the 1048576-byte limit"),
], ids=["duplicate", "deep", "large"])
def test_a_json_values_file_is_read_with_limits_and_no_duplicate(project: Path, text: str, said: str) -> None:
    code, out = cli(project, "values", "load", "-", "--stack", "staging", "--dry-run", stdin=text)
    assert code == 1 and said in out, out[:500]


def test_a_wrangler_json_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wrangler.json").write_text('{"name": "api",\n "name": "other"}\n')
    proc = run("init", "--from-wrangler", "wrangler.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("wrangler.json:2: name: error: duplicate key 'name' (first at line 1)")



def test_security_md_cites_each_of_these_tests_and_no_other() -> None:
    """SECURITY.md's table of what was tried points at the tests above: each exists, each is cited."""
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", (ROOT / "SECURITY.md").read_text()))
    here = {name for name in globals() if name.startswith("test_")}
    assert cited - here == set(), "SECURITY.md cites a test that is not here"
    assert here - cited == {"test_security_md_cites_each_of_these_tests_and_no_other"}, "a test SECURITY.md omits"
