"""A catalogue of broken inputs: each exits 1 with its exact message (file, line, key path, fix),
before anything is applied. Plus a fuzz proving no input escapes the project's error type."""

from __future__ import annotations

import io
import resource
import subprocess
import sys
import textwrap
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import FIGURES, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacks.cli import main
from stacks.core.errors import PlaneError
from stacks.core.manifest import parse_manifest
from stacks.core.yaml_source import load_yaml_text

ACCOUNT = "5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b"
BASE_MANIFEST = textwrap.dedent("""\
    version: 1
    backend: legacy
    secrets:
      OPENAI_API_KEY:
        description: OpenAI key
        owner: ai
        provider: openai
        scopes: [ai_gateway, workers]
        rotation_days: 90
      HUBSPOT_ACCESS_TOKEN:
        description: HubSpot token
        owner: growth
        provider: hubspot
        rotation_days: 90
    workers:
      api:
        script_name:
          prod: ascend-v5
          staging: ascend-v5-staging
        stacks: [staging, prod]
        secrets: [OPENAI_API_KEY, HUBSPOT_ACCESS_TOKEN]
      scheduler:
        script_name: ascend-scheduler-{stack}
        stacks: [staging, prod]
        secrets: [HUBSPOT_ACCESS_TOKEN]
    """)
STAGING = textwrap.dedent(f"""\
    config:
      secrets-plane:accountId: {ACCOUNT}
      secrets-plane:store:
        adopt: 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e
      secrets-plane:secretName: "{{name}}_STAGING"
    """)
PROD = textwrap.dedent(f"""\
    config:
      secrets-plane:accountId: {ACCOUNT}
      secrets-plane:store:
        adopt: 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e
    """)


def many_secrets(n: int) -> str:
    body = "".join(
        f"  S{i}:\n    description: d\n    owner: o\n    provider: p\n    rotation_days: 30\n    scopes: [ai_gateway]\n"
        for i in range(n))
    return f"version: 1\nbackend: store\nsecrets:\n{body}workers: {{}}\n"


# (id, manifest text | None, {stack file: text}, expected stderr line)
M = "secrets_manifest.yaml"
CASES: list[tuple[str, str | bytes | None, dict[str, str], str]] = [
    ("empty-file", "", {}, f"{M}: error: manifest is empty (fix: declare `version: 1`, `backend`, `secrets` and `workers` (see docs/manifest.md))"),
    ("only-comments", "# nothing\n", {}, f"{M}: error: manifest is empty"),
    ("top-level-list", "- a\n- b\n", {}, f"{M}:1: error: the manifest must be a YAML mapping at the top level"),
    ("yaml-syntax", BASE_MANIFEST.replace("backend: legacy", "backend: [legacy"), {}, f"{M}:3: error: YAML syntax error"),
    ("tab-indent", BASE_MANIFEST.replace("  OPENAI_API_KEY:", "\tOPENAI_API_KEY:"), {}, f"{M}:4: error: YAML syntax error"),
    ("duplicate-secret", BASE_MANIFEST.replace("  HUBSPOT_ACCESS_TOKEN:\n    description: HubSpot", "  OPENAI_API_KEY:\n    description: HubSpot"), {},
     f"{M}:10: secrets.OPENAI_API_KEY: error: duplicate key 'OPENAI_API_KEY' (first defined at line 4)"),
    ("duplicate-top-key", BASE_MANIFEST + "backend: store\n", {}, f"{M}:26: backend: error: duplicate key 'backend' (first defined at line 2)"),
    ("alias-bomb", "version: 1\nbackend: legacy\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", {},
     "expands to more than 100000 values (alias expansion bomb?)"),
    ("recursive-alias", "version: 1\nbackend: legacy\na: &a [*a]\n", {},
     f"{M}:3: a[0]: error: an alias refers to a node that contains it (recursive YAML) (fix: remove the recursive anchor/alias)"),
    ("merge-key", BASE_MANIFEST.replace("  scheduler:\n", "  scheduler:\n    <<: {stacks: [prod]}\n"), {}, "merge keys (<<) are not supported"),
    ("deep-nesting", "a: " + "[" * 200 + "]" * 200 + "\n", {}, "YAML nesting is too deep"),
    ("non-utf8", b"version: 1\nbackend: legacy\n# caf\xe9\n", {}, f"{M}:3: error: not valid UTF-8 (byte 32: 0xe9) (fix: save the file as UTF-8)"),
    ("binary", b"\x7fELF\x02\x01\x01\x00\x00\x00", {}, f"{M}: error: file contains NUL bytes (a binary file, not YAML)"),
    ("huge-file", "# " + "x" * (1024 * 1024 + 10) + "\n", {}, "bytes, over the 1048576-byte limit"),
    ("wrong-version", BASE_MANIFEST.replace("version: 1", "version: 2"), {}, f"{M}:1: version: error: value not allowed (fix: use 1)"),
    ("version-string", BASE_MANIFEST.replace("version: 1", "version: '1'"), {}, f"{M}:1: version: error: value not allowed"),
    ("unknown-backend", BASE_MANIFEST.replace("backend: legacy", "backend: vault"), {}, f"{M}:2: backend: error: value not allowed (fix: use 'legacy' or 'store')"),
    ("unknown-top-key", BASE_MANIFEST + "extras: 1\n", {}, f"{M}:26: extras: error: unknown key 'extras'"),
    ("unknown-secret-key", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    rotate_days: 90\n  HUBSPOT"), {},
     f"{M}:10: secrets.OPENAI_API_KEY.rotate_days: error: unknown key 'rotate_days' (fix: did you mean 'rotation_days'?)"),
    ("misspelt-top-key", BASE_MANIFEST.replace("backend: legacy", "backend: legacy\nworkres: {}"), {},
     f"{M}:3: workres: error: unknown key 'workres' (fix: did you mean 'workers'?)"),
    ("unknown-top-key-far-from-any", BASE_MANIFEST.replace("backend: legacy", "backend: legacy\nnotes: x"), {},
     f"{M}:3: notes: error: unknown key 'notes' (fix: known keys here: backend, secrets, version, workers)"),
    ("misspelt-worker-key", BASE_MANIFEST.replace("    secrets: [HUBSPOT_ACCESS_TOKEN]\n", "    secrtes: [HUBSPOT_ACCESS_TOKEN]\n"), {},
     f"{M}:25: workers.scheduler.secrtes: error: unknown key 'secrtes' (fix: did you mean 'secrets'?)"),
    ("misspelt-wrangler-key", BASE_MANIFEST + "    wrangler: {confg: wrangler.toml}\n", {},
     f"{M}:26: workers.scheduler.wrangler.confg: error: unknown key 'confg' (fix: did you mean 'config'?)"),
    ("misspelt-generate-key", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    generate: {byte: 32}\n  HUBSPOT"), {},
     f"{M}:10: secrets.OPENAI_API_KEY.generate.byte: error: unknown key 'byte' (fix: did you mean 'bytes'?)"),
    ("missing-owner", BASE_MANIFEST.replace("    owner: growth\n", ""), {}, f"{M}:10: secrets.HUBSPOT_ACCESS_TOKEN.owner: error: Field required (fix: add this key)"),
    ("rotation-not-int", BASE_MANIFEST.replace("rotation_days: 90\n  HUBSPOT", "rotation_days: ninety\n  HUBSPOT"), {},
     f"{M}:9: secrets.OPENAI_API_KEY.rotation_days: error: Input should be a valid integer (fix: write a whole number)"),
    ("rotation-zero", BASE_MANIFEST.replace("rotation_days: 90\n  HUBSPOT", "rotation_days: 0\n  HUBSPOT"), {},
     f"{M}:9: secrets.OPENAI_API_KEY.rotation_days: error: Input should be greater than 0"),
    ("description-number", BASE_MANIFEST.replace("description: OpenAI key", "description: 42"), {},
     f"{M}:5: secrets.OPENAI_API_KEY.description: error: Input should be a valid string"),
    ("scope-outside-enum", BASE_MANIFEST.replace("[ai_gateway, workers]", "[ai-gateway, workers]"), {},
     f"{M}:8: secrets.OPENAI_API_KEY.scopes[0]: error: value not allowed (fix: use 'access', 'ai_gateway', 'containers', 'dex', 'websearch' or 'workers')"),
    ("scope-twice", BASE_MANIFEST.replace("[ai_gateway, workers]", "[workers, workers]"), {},
     f"{M}:8: secrets.OPENAI_API_KEY.scopes: error: a scope is listed twice (fix: list each scope once)"),
    ("scopes-empty", BASE_MANIFEST.replace("[ai_gateway, workers]", "[]"), {}, f"{M}:8: secrets.OPENAI_API_KEY.scopes: error: List should have at least 1 item"),
    ("secrets-empty", "version: 1\nbackend: legacy\nsecrets: {}\n", {}, f"{M}:3: secrets: error: Dictionary should have at least 1 item"),
    ("secret-name-space", BASE_MANIFEST.replace("  OPENAI_API_KEY:\n    description", "  OPENAI API KEY:\n    description"), {},
     f"{M}:4: secrets.OPENAI API KEY: error: secret name 'OPENAI API KEY' is not accepted by Secrets Store (fix: use 1-255 letters, digits, '_' or '-' (no spaces))"),
    ("unknown-secret-bound", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: [HUBSPOT_ACCES_TOKEN]"), {},
     f"{M}:25: workers.scheduler.secrets[0]: error: Worker 'scheduler' binds unknown secret 'HUBSPOT_ACCES_TOKEN' (fix: did you mean 'HUBSPOT_ACCESS_TOKEN'?)"),
    ("unknown-secret-renamed", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: []\n    bindings:\n      HUBSPOT: HUBSPOT_TOKEN"), {},
     f"{M}:27: workers.scheduler.bindings.HUBSPOT: error: binding 'HUBSPOT' of Worker 'scheduler' names unknown secret 'HUBSPOT_TOKEN' (fix: did you mean 'HUBSPOT_ACCESS_TOKEN'?)"),
    ("binding-twice", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: [HUBSPOT_ACCESS_TOKEN, HUBSPOT_ACCESS_TOKEN]"), {},
     f"{M}:25: workers.scheduler.secrets[1]: error: binding name 'HUBSPOT_ACCESS_TOKEN' is used twice in Worker 'scheduler' (fix: list it once)"),
    ("rename-collides", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: [HUBSPOT_ACCESS_TOKEN]\n    bindings:\n      HUBSPOT_ACCESS_TOKEN: OPENAI_API_KEY"), {},
     f"{M}:27: workers.scheduler.bindings.HUBSPOT_ACCESS_TOKEN: error: binding name 'HUBSPOT_ACCESS_TOKEN' is used twice in Worker 'scheduler'"),
    ("binding-not-identifier", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: []\n    bindings:\n      hubspot-token: HUBSPOT_ACCESS_TOKEN"), {},
     f"{M}:27: workers.scheduler.bindings.hubspot-token: error: binding name 'hubspot-token' is not a JavaScript identifier"),
    ("binding-reserved-word", BASE_MANIFEST.replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: []\n    bindings:\n      class: HUBSPOT_ACCESS_TOKEN"), {},
     f"{M}:27: workers.scheduler.bindings.class: error: binding name 'class' is not a JavaScript identifier"),
    ("secret-name-not-identifier", BASE_MANIFEST.replace("HUBSPOT_ACCESS_TOKEN", "HUBSPOT-TOKEN"), {},
     f"{M}:25: workers.scheduler.secrets[0]: error: binding name 'HUBSPOT-TOKEN' is not a JavaScript identifier"),
    ("script-template-bad-placeholder", BASE_MANIFEST.replace("ascend-scheduler-{stack}", "ascend-scheduler-{env}"), {},
     f"{M}:23: workers.scheduler.script_name: error: script_name template may only use {{stack}}"),
    ("script-name-uppercase", BASE_MANIFEST.replace("prod: ascend-v5\n", "prod: Ascend-V5\n"), {},
     f"{M}:18: workers.api.script_name.prod: error: script name 'Ascend-V5' is not a valid Worker name"),
    ("script-name-missing-stack", BASE_MANIFEST.replace("      staging: ascend-v5-staging\n", ""), {},
     f"{M}:17: workers.api.script_name: error: no script name for stack 'staging'"),
    ("script-name-extra-stack", BASE_MANIFEST.replace("      staging: ascend-v5-staging\n", "      staging: ascend-v5-staging\n      qa: ascend-v5-qa\n"), {},
     f"{M}:20: workers.api.script_name.qa: error: script name given for stack 'qa' where the Worker does not exist"),
    ("worker-stacks-empty", BASE_MANIFEST.replace("stacks: [staging, prod]\n    secrets: [HUBSPOT", "stacks: []\n    secrets: [HUBSPOT"), {},
     f"{M}:24: workers.scheduler.stacks: error: List should have at least 1 item"),
    ("unknown-stack", BASE_MANIFEST.replace("stacks: [staging, prod]\n    secrets: [HUBSPOT", "stacks: [staging, prd]\n    secrets: [HUBSPOT"), {},
     f"{M}:24: workers.scheduler.stacks[1]: error: Worker 'scheduler' names unknown stack 'prd' (fix: did you mean 'prod'? (a stack exists when Pulumi.prd.yaml does))"),
    ("same-script-twice", BASE_MANIFEST.replace("ascend-scheduler-{stack}", "ascend-v5-{stack}").replace("prod: ascend-v5\n", "prod: ascend-v5-prod\n"), {},
     "script 'ascend-v5-prod' is used by Workers 'api' and 'scheduler' in stack 'prod'"),
    ("stack-no-account", None, {"Pulumi.prod.yaml": "config:\n  secrets-plane:store:\n    adopt: 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e\n"},
     "Pulumi.prod.yaml:1: config: error: this stack names no Cloudflare account (fix: pulumi config set secrets-plane:accountId <32-hex account id> --stack prod)"),
    ("stack-bad-account", None, {"Pulumi.prod.yaml": PROD.replace(ACCOUNT, "my-account")},
     "Pulumi.prod.yaml:2: config.secrets-plane:accountId: error: accountId is not a Cloudflare account id"),
    ("stack-account-as-number", None, {"Pulumi.prod.yaml": PROD.replace(ACCOUNT, "12345678901234567890123456789012")},
     "Pulumi.prod.yaml:2: config.secrets-plane:accountId: error: accountId was read as a number: YAML reads an unquoted "
     "all-digit value as one (and drops its leading zeros) (fix: quote it: secrets-plane:accountId: \"<the 32 "
     "characters from the dashboard>\")"),
    ("stack-misspelt-store-key", None, {"Pulumi.prod.yaml": PROD.replace("    adopt:", "    adpot:")},
     "Pulumi.prod.yaml:3: config.secrets-plane:store.adpot: error: unknown key 'adpot' (fix: did you mean 'adopt'?)"),
    ("stack-unknown-key", None, {"Pulumi.prod.yaml": PROD + "  secrets-plane:secretname: x\n"},
     "Pulumi.prod.yaml:5: config.secrets-plane:secretname: error: unknown setting 'secrets-plane:secretname' (fix: did you mean 'secretName'?)"),
    ("stack-bad-backend", None, {"Pulumi.prod.yaml": PROD + "  secrets-plane:backend: vault\n"},
     "Pulumi.prod.yaml:5: config.secrets-plane:backend: error: value not allowed (fix: use 'legacy' or 'store')"),
    ("stack-store-both", None, {"Pulumi.prod.yaml": PROD.replace("    adopt: 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e\n", "    adopt: 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e\n    create: ascend\n")},
     "Pulumi.prod.yaml:3: config.secrets-plane:store: error: store must say exactly one of `adopt: <store id>` or `create: <name>`"),
    ("stack-store-missing", None, {"Pulumi.prod.yaml": f"config:\n  secrets-plane:accountId: {ACCOUNT}\n  secrets-plane:backend: store\n"},
     "Pulumi.prod.yaml:1: config.secrets-plane:store: error: stack 'prod' puts 2 secret(s) in the store (HUBSPOT_ACCESS_TOKEN, OPENAI_API_KEY) but names no store"),
    ("stack-bad-naming-rule", None, {"Pulumi.staging.yaml": STAGING.replace("{name}_STAGING", "STAGING")},
     "Pulumi.staging.yaml:5: config.secrets-plane:secretName: error: secretName 'STAGING' is not a valid naming rule"),
    ("stack-names-collide", None, {"Pulumi.staging.yaml": STAGING.replace('  secrets-plane:secretName: "{name}_STAGING"\n', "")},
     "store secret name 'HUBSPOT_ACCESS_TOKEN' of stack 'staging' collides with stack 'prod' on account 5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b"),
    ("stack-plaintext-value", None, {"Pulumi.prod.yaml": PROD + "  secrets-plane:values:\n    OPENAI_API_KEY: sk-live-CANARY\n"},
     "Pulumi.prod.yaml:6: config.secrets-plane:values.OPENAI_API_KEY: error: value of 'OPENAI_API_KEY' is stored in plain text"),
    ("stack-values-not-mapping", None, {"Pulumi.prod.yaml": PROD + "  secrets-plane:values: [a]\n"},
     "Pulumi.prod.yaml:5: config.secrets-plane:values: error: values must be a mapping of secret name -> value"),
    ("stack-yaml-syntax", None, {"Pulumi.prod.yaml": "config: [\n"}, "Pulumi.prod.yaml:2: error: YAML syntax error"),
    ("stack-not-mapping", None, {"Pulumi.prod.yaml": "- config\n"}, "Pulumi.prod.yaml:1: error: a stack file must be a YAML mapping"),
    # Phased adoption, external secrets, generated values, Workers limits.
    ("secret-backend-bad", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    backend: vault\n  HUBSPOT"), {},
     f"{M}:10: secrets.OPENAI_API_KEY.backend: error: value not allowed (fix: use 'legacy' or 'store')"),
    ("worker-backend-bad", BASE_MANIFEST.replace("  scheduler:\n", "  scheduler:\n    backend: Store\n"), {},
     f"{M}:23: workers.scheduler.backend: error: value not allowed (fix: use 'legacy' or 'store')"),
    ("fallback-not-bool", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    fallback: 'yes'\n  HUBSPOT"), {},
     f"{M}:10: secrets.OPENAI_API_KEY.fallback: error: Input should be a valid boolean"),
    ("fallback-name-collides", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    backend: store\n    fallback: true\n  HUBSPOT")
     .replace("    secrets: [OPENAI_API_KEY, HUBSPOT_ACCESS_TOKEN]\n", "    secrets: [OPENAI_API_KEY, HUBSPOT_ACCESS_TOKEN]\n    bindings:\n      OPENAI_API_KEY_FALLBACK: HUBSPOT_ACCESS_TOKEN\n"), {},
     f"{M}:23: workers.api.secrets[0]: error: the fallback copy of binding 'OPENAI_API_KEY' would be named 'OPENAI_API_KEY_FALLBACK', which Worker 'api' already binds"),
    ("external-with-fallback", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    external: true\n    fallback: true\n  HUBSPOT"), {},
     f"{M}:11: secrets.OPENAI_API_KEY.fallback: error: secret 'OPENAI_API_KEY' is external: a fallback copy needs a value the plane owns"),
    ("external-with-generate", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    external: true\n    generate: {bytes: 32}\n  HUBSPOT"), {},
     f"{M}:11: secrets.OPENAI_API_KEY.generate: error: secret 'OPENAI_API_KEY' is external: the plane never sets its value"),
    ("generate-too-short", BASE_MANIFEST.replace("    rotation_days: 90\n  HUBSPOT", "    rotation_days: 90\n    generate: {bytes: 8}\n  HUBSPOT"), {},
     f"{M}:10: secrets.OPENAI_API_KEY.generate.bytes: error: Input should be greater than or equal to 16"),
    ("store-override-without-store", BASE_MANIFEST.replace("  scheduler:\n", "  scheduler:\n    backend: store\n"),
     {"Pulumi.prod.yaml": f"config:\n  secrets-plane:accountId: {ACCOUNT}\n"},
     f"{M}:23: workers.scheduler.backend: error: this is what puts stack 'prod' on the store: Worker 'scheduler' says `backend: store`"),
    ("worker-over-128-env-vars", "version: 1\nbackend: legacy\nsecrets:\n" + "".join(
        f"  S{i}:\n    description: d\n    owner: o\n    provider: p\n    rotation_days: 30\n" for i in range(129))
     + "workers:\n  big:\n    script_name: big-{stack}\n    stacks: [prod]\n    secrets: [" + ", ".join(f"S{i}" for i in range(129)) + "]\n", {},
     f"{M}:650: workers.big: error: Worker 'big' would hold 129 secret_text bindings in stack 'prod', over the Workers "
     "limit of 128 environment variables (secret and text combined)"),
    ("account-over-100", many_secrets(51), {},
     "error: account 5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b would hold 102 store secrets (prod: 51, staging: 51), over Cloudflare's limit of 100 per account"),
]


def write_project(tmp: Path, manifest: str | bytes | None, stacks: dict[str, str]) -> Path:
    files = {"Pulumi.staging.yaml": STAGING, "Pulumi.prod.yaml": PROD, **stacks}
    for name, text in files.items():
        (tmp / name).write_text(text)
    data = BASE_MANIFEST if manifest is None else manifest
    (tmp / M).write_bytes(data if isinstance(data, bytes) else data.encode())
    return tmp


def run_cli(project: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    return code, out.getvalue(), err.getvalue()


def test_base_of_the_catalogue_is_valid(tmp_path: Path) -> None:
    code, out, err = run_cli(write_project(tmp_path, None, {}), "validate")
    assert code == 0, err
    assert out.startswith("ok: 2 secrets, 2 workers, 3 bindings")


@pytest.mark.parametrize("case_id,manifest,stacks,expected", CASES, ids=[c[0] for c in CASES])
def test_broken_input_exits_1_with_its_message(tmp_path: Path, case_id: str, manifest: str | bytes | None,
                                               stacks: dict[str, str], expected: str) -> None:
    project = write_project(tmp_path, manifest, stacks)
    FIGURES["bad_inputs"] += 1
    for command in (["validate"], ["plan", "--stack", "prod"]):
        started = time.monotonic()
        code, out, err = run_cli(project, *command)
        assert code == 1, (command, out, err)
        assert expected in err, err
        assert "Traceback" not in err and "CANARY" not in err + out
        assert time.monotonic() - started < 10
    FIGURES["bad_inputs_exit_1"] += 1


def test_catalogue_size() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


def test_unknown_stack_for_plan(tmp_path: Path) -> None:
    code, _, err = run_cli(write_project(tmp_path, None, {}), "plan", "--stack", "prdo")
    assert code == 1
    assert "Pulumi.prdo.yaml: error: unknown stack 'prdo': there is no Pulumi.prdo.yaml (fix: did you mean 'prod'?)" in err


def test_unbound_secret_is_a_warning_not_an_error(tmp_path: Path) -> None:
    manifest = BASE_MANIFEST.replace("secrets: [OPENAI_API_KEY, HUBSPOT_ACCESS_TOKEN]", "secrets: [OPENAI_API_KEY]") \
        .replace("secrets: [HUBSPOT_ACCESS_TOKEN]", "secrets: [OPENAI_API_KEY]")
    code, out, err = run_cli(write_project(tmp_path, manifest, {}), "validate")
    assert code == 0
    assert (f"{M}:10: secrets.HUBSPOT_ACCESS_TOKEN: warning: secret 'HUBSPOT_ACCESS_TOKEN' is bound by no Worker "
            "and has no other scope") in err


@pytest.mark.parametrize("case_id", ["alias-bomb", "huge-file", "deep-nesting"])
def test_hostile_files_stay_within_time_and_memory(tmp_path: Path, case_id: str) -> None:
    manifest = next(c[1] for c in CASES if c[0] == case_id)
    project = write_project(tmp_path, manifest, {})

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1024 * 1024 * 1024, 1024 * 1024 * 1024))

    proc = subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), "validate"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=limit)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.floats(allow_nan=False))
yaml_values = st.recursive(yaml_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)), max_leaves=20)
manifest_like = st.fixed_dictionaries({}, optional={
    "version": yaml_values, "backend": st.one_of(st.sampled_from(["legacy", "store"]), yaml_values),
    "secrets": st.dictionaries(st.text(max_size=12), st.one_of(yaml_values, st.fixed_dictionaries(
        {"description": yaml_values, "owner": yaml_values, "provider": yaml_values, "rotation_days": yaml_values},
        optional={"scopes": yaml_values})), max_size=3),
    "workers": st.dictionaries(st.text(max_size=8), st.one_of(yaml_values, st.fixed_dictionaries(
        {"script_name": yaml_values, "stacks": yaml_values},
        optional={"secrets": yaml_values, "bindings": yaml_values})), max_size=3),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest_like)
def test_fuzz_structures_only_raise_plane_error(data: dict[str, object]) -> None:
    import yaml

    text = yaml.safe_dump(data)
    FIGURES["fuzz_examples"] += 1
    try:
        parse_manifest(load_yaml_text(text, M))
    except PlaneError as exc:
        assert exc.problems and all(p.location.file == M for p in exc.problems)
    except Exception:
        FIGURES["fuzz_escapes"] += 1
        raise


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_raw_text_only_raises_plane_error(text: str) -> None:
    FIGURES["fuzz_examples"] += 1
    try:
        parse_manifest(load_yaml_text(text, M))
    except PlaneError:
        pass
    except Exception:
        FIGURES["fuzz_escapes"] += 1
        raise
