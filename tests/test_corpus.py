"""Real wrangler configs from public repositories (tests/fixtures/corpus/configs, provenance in its
PROVENANCE.md): `init` drafts each, the draft (its TODOs filled as a user would, the stack files
written as its notes say) binds per stack exactly what the config declares per env, by wrangler's
env rules; then `wrangler sync` on a copy only adds to the lists' spans and `check` passes.

Policy where the config is silent: a name in a `.dev.vars` or `.dev.vars.example` beside the config
that no drafted env declares as a var or a store binding is drafted as a Worker secret of every
stack (what it is for is not said; counterscale's flags too); a name only in a comment, or only
a top-level var of a config whose stacks deploy envs that do not inherit it, is read as wrangler
reads it; a config with no secret drafts `secrets: {}` and says what to add."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ACCOUNT, ROOT

from stacks.core.estate import load_estate
from stacks.worker_kit.init_draft import draft
from stacks.worker_kit.wrangler_config import entries_for, render

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "configs"
# The corpus names public addresses (links in comments, URLs as vars): text only, never reached.
pytestmark = pytest.mark.usefixtures("loopback_only")
T = ("secret_text", None)


def S(name: str) -> tuple[str, str]:
    return ("secrets_store_secret", name)


PHILOSIFY_STORE = ("OPENAI_API_KEY GEMINI_API_KEY ANTHROPIC_API_KEY GROK_API_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET "
                   "SUPABASE_URL SUPABASE_SERVICE_KEY SUPABASE_ANON_KEY GENIUS_ACCESS_TOKEN SPOTIFY_CLIENT_ID "
                   "SPOTIFY_CLIENT_SECRET ADMIN_SECRET STRIPE_PRICE_ID_10 STRIPE_PRICE_ID_20 STRIPE_PRICE_ID_50 "
                   "DEEPSEEK_API_KEY RESEND_API_KEY GUIDE_PROOF_SECRET VAPID_PRIVATE_KEY SUPABASE_AUTH_HOOK_SECRET "
                   "GOOGLE_BOOKS_API_KEY NYT_BOOKS_API_KEY NEWSAPI_AI_KEY TMDB_API_KEY STRIPE_ADS_WEBHOOK_SECRET").split()
MCP_LOCAL = {n: T for n in ("CLOUDFLARE_CLIENT_ID", "CLOUDFLARE_CLIENT_SECRET", "DEV_DISABLE_OAUTH",
                            "DEV_CLOUDFLARE_API_TOKEN")}

# From /work/corpus-staging/expected.md, by wrangler's env rules: config -> stack -> (the script
# that stack deploys, its bindings). staging is the env `staging`; prod the env prod/production,
# else the top level. A config with no such env has no entry for that stack.
EXPECTED: dict[str, dict[str, tuple[str, dict[str, tuple[str, str | None]]]]] = {
    "agents-anthropic-patterns.wrangler.json": {"prod": ("anthropic-agent-patterns",
                                                         {"OPENAI_API_KEY": T, "AI_GATEWAY_TOKEN": T})},
    "agents-deploy-churn.wrangler.jsonc": {"prod": ("agents-deploy-churn", {"ANTHROPIC_API_KEY": T})},
    "agents-elevenlabs-starter.wrangler.jsonc": {"prod": ("elevenlabs-starter", {"ELEVENLABS_API_KEY": T})},
    "counterscale.wrangler.json": {"prod": ("counterscale", {n: T for n in (
        "CF_BEARER_TOKEN", "CF_ACCOUNT_ID", "CF_PASSWORD_HASH", "CF_JWT_SECRET", "CF_AUTH_ENABLED",
        "CF_STORAGE_ENABLED")})},
    # example.dev.vars is not a name wrangler (or init) reads; the [secrets] in it is a comment
    "discord-awwbot.wrangler.toml": {"prod": ("awwbot", {})},
    "llm-bots-telegram-gpt.wrangler.toml": {"prod": ("telegram", {})},
    # no top-level name: the stacks deploy the envs' own
    "mcp-dex-analysis.wrangler.jsonc": {"staging": ("mcp-cloudflare-workers-dex-staging", MCP_LOCAL),
                                        "prod": ("mcp-cloudflare-workers-dex-production", MCP_LOCAL)},
    # CLOUDFLARE_CLIENT_* are top-level vars only: the envs do not inherit them, so there they are secrets
    "mcp-workers-bindings.wrangler.jsonc": {"staging": ("mcp-cloudflare-workers-bindings-staging", MCP_LOCAL),
                                            "prod": ("mcp-cloudflare-workers-bindings-production", MCP_LOCAL)},
    "orange.wrangler.toml": {"prod": ("orange-meets", {})},
    # a config of its own (wrangler -c): its top level is what it deploys, whatever its file name
    "orange.wrangler.staging.toml": {"prod": ("orange-meets-staging", {})},
    # 26 store bindings in production only; ADS_JWT_SECRET only in .dev.vars.example; the URLs there are vars
    "philosify-api.wrangler.toml": {"prod": ("philosify-api-production",
                                             {**{n: S(n) for n in PHILOSIFY_STORE}, "ADS_JWT_SECRET": T})},
    "serverless-registry.wrangler.example.jsonc": {"prod": ("r2-registry-production", {})},
    "serverless-registry.wrangler.example.toml": {"prod": ("r2-registry-production", {})},
    "tpl-internal-sites.wrangler.jsonc": {"prod": ("internal-sites-template", {"DISPATCH_NAMESPACE_API_TOKEN": T})},
    "tpl-workers-builds-notifications.wrangler.jsonc": {"prod": ("workers-builds-notifications-template",
                                                                 {"SLACK_WEBHOOK_URL": T, "CLOUDFLARE_API_TOKEN": T})},
    "tpl-workers-for-platforms.wrangler.jsonc": {"prod": ("workers-for-platforms-template", {})},
    "tpl-x402-proxy.wrangler.jsonc": {"prod": ("x402-proxy-template", {"JWT_SECRET": T})},
    "workers-chat-demo.wrangler.toml": {"prod": ("edge-chat-demo", {})},
    "wsdk-auth-service.wrangler.jsonc": {"prod": ("auth-service", {"AUTH_PUBLIC_KEY": T})},
    "wsdk-auto-triage-bot.wrangler.jsonc": {"prod": ("workers-sdk-auto-triage",
                                                     {"GITHUB_TOKEN": T, "GITHUB_WEBHOOK_SECRET": T})},
    "wsdk-format-errors.wrangler.jsonc": {"prod": ("format-errors", {n: T for n in (
        "PROMETHEUS_TOKEN", "SENTRY_ACCESS_CLIENT_SECRET", "SENTRY_ACCESS_CLIENT_ID")})},
    "wsdk-get-platform-proxy.wrangler.jsonc": {"prod": ("get-bindings-proxy-fixture-production", {})},
    # env.testing is no stack: prod is the top level
    "wsdk-playground-preview-worker.wrangler.json": {"prod": ("playground-preview-worker", {n: T for n in (
        "API_TOKEN", "PROMETHEUS_TOKEN", "SENTRY_ACCESS_CLIENT_SECRET", "SENTRY_ACCESS_CLIENT_ID")})},
    "wsdk-redirected-config-worker.wrangler.jsonc": {"staging": ("redirected-config-worker-staging", {}),
                                                     "prod": ("redirected-config-worker-prod", {})},
    "wsdk-router-worker.wrangler.jsonc": {"staging": ("router-worker-staging", {}), "prod": ("router-worker", {})},
    "wsdk-secrets-store.wrangler.jsonc": {"prod": ("secret-store", {"SECRET": S("secret_name")})},
    # wrangler dev reads .dev.vars.staging instead of .dev.vars under --env staging; MY_DEV_VAR_C,
    # in prod's only, is left out unmanaged (a Worker binds its secrets in every stack it is in)
    "wsdk-vite-dev-vars.wrangler.jsonc": {
        "staging": ("worker-staging", {n: T for n in ("ENV_NAME", "MY_DEV_VAR_A", "MY_DEV_VAR_B")}),
        "prod": ("worker", {n: T for n in ("ENV_NAME", "MY_DEV_VAR_A", "MY_DEV_VAR_B")})},
}
LOCAL = {".example.dev.vars": "example.dev.vars"}  # the file names the repositories give them


def fill_todos(text: str) -> str:
    text = re.sub(r"description: TODO", "description: drafted", text)
    text = re.sub(r"owner: TODO +# who rotates it", "owner: platform", text)
    text = re.sub(r"provider: TODO +# e.g. (\w+)", r"provider: \1", text)
    return re.sub(r"rotation_days: TODO +# e.g. 90", "rotation_days: 90", text)


def test_every_config_of_the_corpus_is_in_the_oracle() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.wrangler*")) == sorted(EXPECTED)
    listed = (CORPUS / "PROVENANCE.md").read_text()
    for path in CORPUS.iterdir():
        if path.name != "PROVENANCE.md":
            assert f"| {path.name} |" in listed, path.name


def _project(tmp_path: Path, name: str) -> Path:
    """The config as its repository has it: in a folder of its own with its local files."""
    stem, suffix = name.split(".wrangler", 1)
    folder = tmp_path / stem
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / name, folder / ("wrangler" + suffix))
    for local in CORPUS.glob(stem + ".*"):
        rest = local.name[len(stem):]
        if not rest.startswith(".wrangler"):
            shutil.copy(local, folder / LOCAL.get(rest, rest))
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return folder / ("wrangler" + suffix)


SHARED = {"staging": ACCOUNT, "prod": ACCOUNT}  # both stacks on one account, as most teams run them
APART = {"staging": "0123456789abcdef" * 2, "prod": ACCOUNT}


def _stack_files(project: Path, notes: list[str], accounts: dict[str, str] = SHARED) -> None:
    """Pulumi.<stack>.yaml as the draft's notes say to write them (a note that holds only if the
    stack shares an account with another is followed only when it does)."""
    for stack in ("staging", "prod"):
        lines = [f"  secrets-plane:accountId: {accounts[stack]}"]
        for note in notes:
            shares = re.search(r"if it shares an account with stack (\w+)", note)
            if shares and accounts[shares.group(1)] != accounts[stack]:
                continue
            if note.startswith(f"# stack {stack}:"):
                adopt = re.search(r"store: \{adopt: (\w+)\}", note)
                lines += [f"  secrets-plane:store:\n    adopt: {adopt.group(1)}"] if adopt else []
                lines += ["  secrets-plane:backend: legacy"] if "backend: legacy" in note else []
                rule = re.search(r"secretName: '([^']+)'", note)
                lines += [f"  secrets-plane:secretName: \"{rule.group(1)}\""] if rule else []
        (project / f"Pulumi.{stack}.yaml").write_text("config:\n" + "\n".join(lines) + "\n")


def _read(tmp_path: Path, name: str) -> tuple[dict[str, tuple[str, dict[str, tuple[str, str | None]]]], Path]:
    config = _project(tmp_path, name)
    text, notes = draft([config], ["staging", "prod"], tmp_path)
    manifest = yaml.safe_load(text)
    (tmp_path / "secrets_manifest.yaml").write_text(fill_todos(text))
    _stack_files(tmp_path, ["# " + n for n in notes])
    if not manifest["secrets"]:
        # Nothing to manage: the draft says what to add (validate needs a secret), the Workers as read.
        assert any("no config declares a secret" in n for n in notes)
        worker = next(iter(manifest["workers"].values()))
        return {stack: (script, {}) for stack, script in worker["script_name"].items()}, config
    estate = load_estate(tmp_path)  # validates: a located error here fails the test
    got = {}
    for stack in ("staging", "prod"):
        for worker in estate.desired_state(stack).workers:
            got[stack] = (worker.script_name, {b.name: (b.kind, b.store_secret_name) for b in worker.bindings})
    return got, config


def test_init_reads_each_config_as_wrangler_does(tmp_path: Path) -> None:
    wrong = set()
    for index, name in enumerate(sorted(EXPECTED)):
        got, _ = _read(tmp_path / str(index), name)
        if got != EXPECTED[name]:
            wrong.add(name)
    assert not wrong, sorted(wrong)
    print(f"init reads {len(EXPECTED) - len(wrong)} of {len(EXPECTED)} corpus configs right")


ADDED = "SP_ADDED_KEY"


def _add_a_secret(project: Path) -> None:
    """What a team does next (and what the draft of a config with no secret asks for): one new
    secret, added to the manifest and listed under the Worker."""
    path = project / "secrets_manifest.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["secrets"][ADDED] = {"description": "added", "owner": "platform", "provider": "sp", "rotation_days": 90}
    for worker in manifest["workers"].values():
        worker["secrets"] = [*worker["secrets"], ADDED]
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def _sync_only_inserts(project: Path, name: str, stacks: list[str]) -> int:
    """Sync each stack's config, as it stands, from the manifest: the bytes it adds, and check then
    in step."""
    estate = load_estate(project)  # validates: a located error here fails the test
    worker = next(iter(estate.manifest.manifest.workers))
    added = 0
    for stack in stacks:
        entries, path, env = entries_for(estate, stack, worker, None, None, None)
        before = (project / path).read_text()
        after = render(project / path, before, env, entries)
        ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
        assert {op for op, *_ in ops} <= {"equal", "insert"}, f"{name} {stack}: sync changed bytes it does not own"
        added += sum(j2 - j1 for op, _, _, j1, j2 in ops if op == "insert")
        (project / path).write_text(after)
        assert render(project / path, after, env, entries) == after, f"{name} {stack}: check still differs"
    return added


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sync_only_adds_to_its_spans_and_check_then_passes(tmp_path: Path, name: str) -> None:
    got, config = _read(tmp_path, name)
    if any(bindings for _, bindings in got.values()):
        _sync_only_inserts(tmp_path, name, list(got))  # the draft as it is
    # Then one secret more, on every config (those with none included): sync adds its name.
    _add_a_secret(tmp_path)
    assert _sync_only_inserts(tmp_path, name, list(got)) > 0, f"{name}: the new secret was not synced"
    estate = load_estate(tmp_path)
    for stack in got:
        _, path, _ = entries_for(estate, stack, next(iter(estate.manifest.manifest.workers)), None, None, None)
        assert ADDED in (tmp_path / path).read_text(), f"{name} {stack}"


def test_a_binding_of_some_envs_only_is_left_out_and_said(tmp_path: Path) -> None:
    config = _project(tmp_path, "wsdk-vite-dev-vars.wrangler.jsonc")
    text, notes = draft([config], ["staging", "prod"], tmp_path)
    assert "# left out, unmanaged (never touched): MY_DEV_VAR_C: bound in stack(s) prod only, not in staging" in text
    assert any("MY_DEV_VAR_C" in n and "left out of the draft" in n for n in notes)


def test_stacks_on_their_own_accounts_keep_the_bare_names(tmp_path: Path) -> None:
    """The note on distinct store names holds only for stacks sharing an account: not followed, the
    draft of two stacks on two accounts validates with every secret under its own name."""
    config = _project(tmp_path, "mcp-dex-analysis.wrangler.jsonc")
    text, notes = draft([config], ["staging", "prod"], tmp_path)
    assert any("if it shares an account with stack prod" in n for n in notes)
    (tmp_path / "secrets_manifest.yaml").write_text(fill_todos(text))
    _stack_files(tmp_path, ["# " + n for n in notes], APART)
    assert "secretName" not in (tmp_path / "Pulumi.staging.yaml").read_text()
    estate = load_estate(tmp_path)
    for stack in ("staging", "prod"):
        names = {b.store_secret_name for w in estate.desired_state(stack).workers for b in w.bindings}
        assert names and all(n is None or not n.endswith("_STAGING") for n in names)
        assert {b.name for w in estate.desired_state(stack).workers for b in w.bindings} == set(MCP_LOCAL)


def test_the_guard_refuses_a_public_address_and_lets_loopback_through() -> None:
    import socket

    with socket.socket() as sock, pytest.raises(OSError, match="only loopback is allowed"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1 (RFC 5737), never routed: refused before any packet
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 9)) != 0  # loopback reaches the real call (a closed port)
