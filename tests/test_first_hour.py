"""The first hour moves nothing: a manifest drafted by `init` from the estate in
tests/fixtures/estate reproduces every binding as its config declares it (type, store secret per
stack), validates once its TODOs are filled, and the plan of both stacks binds exactly that."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID, canary, leak_scan

from stacks.core.estate import load_estate

ESTATE = Path(__file__).parent / "fixtures" / "estate"
TEXT, STORE = "secret_text", "secrets_store_secret"

# What the configs declare, written down by hand from them: stack -> script -> binding -> (type,
# store secret). SLACK_WEBHOOK (a store binding in mailer's staging env, a Worker secret in its
# production env) is not there: no setting of the manifest gives it both, so it is left unmanaged.
DECLARED = {
    "staging": {
        "shop-api-staging": {"STRIPE_KEY": (TEXT, None), "OPENAI_KEY": (TEXT, None)},
        "shop-assistant-staging": {"OPENAI_KEY": (STORE, "OPENAI_KEY_STAGING")},
        "catalog-staging": {"CATALOG_DATABASE_URL": (STORE, "CATALOG_DATABASE_URL"), "SEARCH_TOKEN": (TEXT, None)},
        "mailer-staging": {"SENDGRID_KEY": (TEXT, None)},
    },
    "prod": {
        "shop-api": {"STRIPE_KEY": (TEXT, None), "OPENAI_KEY": (TEXT, None)},
        "shop-assistant": {"OPENAI_KEY": (STORE, "OPENAI_KEY")},
        "catalog": {"CATALOG_DATABASE_URL": (STORE, "CATALOG_DATABASE_URL_PROD"), "SEARCH_TOKEN": (TEXT, None)},
        "mailer": {"SENDGRID_KEY": (TEXT, None)},
    },
}
CONFIGS = ["api/wrangler.toml", "assistant/wrangler.jsonc", "catalog/wrangler.toml", "mailer/wrangler.jsonc"]


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "stacks", *args], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert CANARY_PREFIX not in leak_scan(proc.stdout + proc.stderr)
    return proc


def fill_todos(text: str) -> str:
    text = re.sub(r"description: TODO", "description: drafted", text)
    text = re.sub(r"owner: TODO +# who rotates it", "owner: platform", text)
    text = re.sub(r"provider: TODO +# e.g. (\w+)", r"provider: \1", text)
    return re.sub(r"rotation_days: TODO +# e.g. 90", "rotation_days: 90", text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ESTATE, tmp_path, dirs_exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    # Local values beside the API's config: LOG_LEVEL is a [vars] name, the others are its secrets.
    (tmp_path / "api" / ".dev.vars").write_text(
        f"LOG_LEVEL=debug\nSTRIPE_KEY={canary('stripe-local')}\nOPENAI_KEY={canary('openai-local')}\n")
    return tmp_path


def drafted(project: Path) -> tuple[str, list[str]]:
    proc = run(project, "init", "--from-wrangler", *CONFIGS, "--output", "secrets_manifest.yaml")
    assert proc.returncode == 0, proc.stderr
    draft = (project / "secrets_manifest.yaml").read_text()
    assert CANARY_PREFIX not in draft
    return draft, proc.stderr.splitlines()


def test_init_validate_plan_retype_no_binding(project: Path) -> None:
    draft, notes = drafted(project)
    # The stack files as the notes ask for them.
    assert f"# stack staging: Pulumi.staging.yaml needs `secrets-plane:store: {{adopt: {STORE_ID}}}` (the store the " \
           "configs bind)" in notes
    assert "# stack staging: its store secret names look like {name}_STAGING: set `secrets-plane:secretName: " \
           "'{name}_STAGING'` in Pulumi.staging.yaml" in notes
    assert not any("secretName" in note for note in notes if note.startswith("# stack prod"))
    (project / "Pulumi.staging.yaml").write_text(f"config:\n  secrets-plane:accountId: {ACCOUNT}\n  secrets-plane:store:\n"
                                                 f"    adopt: {STORE_ID}\n  secrets-plane:secretName: \"{{name}}_STAGING\"\n")
    (project / "Pulumi.prod.yaml").write_text(f"config:\n  secrets-plane:accountId: {ACCOUNT}\n  secrets-plane:store:\n"
                                              f"    adopt: {STORE_ID}\n")
    (project / "secrets_manifest.yaml").write_text(fill_todos(draft))
    proc = run(project, "validate")
    assert proc.returncode == 0, proc.stderr

    estate = load_estate(project)
    for stack, scripts in DECLARED.items():
        got = {w.script_name: {b.name: (b.kind, b.store_secret_name) for b in w.bindings}
               for w in estate.desired_state(stack).workers}
        assert got == scripts, stack
        proc = run(project, "plan", "--stack", stack)
        assert proc.returncode == 0, proc.stderr


def test_the_draft_says_what_it_leaves_out_and_what_would_move_credentials(project: Path) -> None:
    draft, notes = drafted(project)
    assert "Applying it as drafted moves no\n# credential. What would: `backend: store`" in draft
    assert "`python -m stacks diff --base <branch>` shows each binding it retypes" in draft
    assert "    # left out, unmanaged (never touched): SLACK_WEBHOOK: store in staging, legacy in prod: a binding has " \
           "one type in every stack that is not held back" in draft
    assert any("binding SLACK_WEBHOOK left out of the draft" in note for note in notes)
    # The [vars] names in .dev.vars and .dev.vars.example are plain text, not secrets.
    assert "LOG_LEVEL" not in draft and "DEBUG" not in draft
    # The Worker named only per env is drafted; its script per stack is the env's own name.
    assert "      staging: mailer-staging\n      prod: mailer\n" in draft


@pytest.mark.parametrize(("today", "workers", "secrets"), [
    # A Worker all on the store moves as a Worker; the other keeps its Worker secret.
    ({("a", "K"): "store", ("b", "K"): "legacy"}, {"a": "store"}, {}),
    # A store binding beside Worker secrets moves its Worker, holding the secrets it keeps.
    ({("a", "K"): "store", ("a", "L"): "legacy", ("b", "K"): "legacy"}, {"a": "store"}, {"L": "legacy"}),
    # ... or its secret, holding the Worker that keeps it as a Worker secret.
    ({("a", "K"): "store", ("a", "L"): "legacy", ("b", "L"): "store", ("c", "K"): "legacy"},
     {"b": "store", "c": "legacy"}, {"K": "store"}),
])
def test_the_backend_settings_give_every_binding_the_type_it_has(today, workers, secrets) -> None:  # type: ignore[no-untyped-def]
    from stacks.core.backends import resolve_backend
    from stacks.worker_kit.init_draft import fit_backends

    kinds = {pair: {"staging": kind, "prod": kind} for pair, kind in today.items()}
    fitted = fit_backends(kinds, {pair: pair[1] for pair in today}, ["staging", "prod"])
    assert (fitted.workers, fitted.secrets, fitted.unexpressible, fitted.held_stacks) == (workers, secrets, {}, [])
    for (worker, secret), kind in today.items():
        assert resolve_backend("legacy", None, workers.get(worker), secrets.get(secret)) == kind  # type: ignore[arg-type]


def test_a_mix_no_setting_gives_is_left_out_not_retyped() -> None:
    from stacks.worker_kit.init_draft import fit_backends

    today = {("a", "K"): "store", ("a", "L"): "legacy", ("b", "K"): "legacy", ("b", "L"): "store"}
    fitted = fit_backends({p: {"prod": k} for p, k in today.items()}, {p: p[1] for p in today}, ["prod"])
    assert set(fitted.unexpressible) <= set(today) and fitted.unexpressible
    from stacks.core.backends import resolve_backend
    for (worker, secret), kind in today.items():
        if (worker, secret) not in fitted.unexpressible:
            assert resolve_backend("legacy", None, fitted.workers.get(worker), fitted.secrets.get(secret)) == kind  # type: ignore[arg-type]


def test_a_config_without_secrets_says_what_to_add(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text('name = "static-site"\n[vars]\nMODE = "x"\n')
    proc = run(tmp_path, "init", "--from-wrangler", "wrangler.toml")
    assert proc.returncode == 0
    assert "# no config declares a secret: add one under `secrets:` in the draft" in proc.stderr
    assert "# No config declares a secret" in proc.stdout and "secrets: {}" in proc.stdout


def test_a_store_name_for_an_unknown_stack_is_a_located_error(project: Path) -> None:
    draft, _ = drafted(project)
    for stack in ("staging", "prod"):
        (project / f"Pulumi.{stack}.yaml").write_text(f"config:\n  secrets-plane:accountId: {ACCOUNT}\n"
                                                      f"  secrets-plane:store:\n    adopt: {STORE_ID}\n")
    (project / "secrets_manifest.yaml").write_text(fill_todos(draft).replace("{prod: CATALOG", "{prdo: CATALOG"))
    proc = run(project, "validate")
    assert proc.returncode == 1
    assert "secrets.CATALOG_DATABASE_URL.store_names.prdo: error: secret 'CATALOG_DATABASE_URL' names its store " \
           "secret in unknown stack 'prdo' (fix: did you mean 'prod'?)" in proc.stderr
