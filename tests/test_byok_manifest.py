"""AI Gateway BYOK keys in the manifest: the rules `validate` enforces (each located, with a fix),
the store secrets and provider configs a stack's desired state gains on every backend, named as
the gateway looks them up, and counted against the account's store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import STORE_ID
from test_estate_rules import STORE, names, outcome, secret, write

from stacks.core.estate import load_estate
from stacks.core.manifest import Manifest

WORKER = {"w": {"script_name": "w-{stack}", "stacks": ["prod"], "secrets": ["OPENAI_API_KEY"]}}


def key(gateway: str = "gw-prod", provider: str = "openai", **extra: Any) -> dict[str, Any]:
    return {"gateway": gateway, "provider": provider, **extra}


def problems(path: Path) -> tuple[list[str], list[str]]:
    """`outcome` without the warnings that no values are set and that the ids are the sample's (they are, here)."""
    errors, warnings = outcome(path)
    return errors, [w for w in warnings if "value(s) not set" not in w and "still the sample's" not in w]


def project(tmp: Path, secrets: dict[str, Any], stack: dict[str, Any] | None = None,
            backend: str = "legacy") -> Path:
    manifest = {"secrets": secrets, "workers": WORKER}
    path = write(tmp, manifest, {"prod": STORE if stack is None else stack})
    text = (path / "secrets_manifest.yaml").read_text().replace("backend: legacy", f"backend: {backend}")
    (path / "secrets_manifest.yaml").write_text(text)
    return path


@pytest.mark.parametrize("backend", ["legacy", "store"])
def test_two_keys_on_one_gateway_are_two_named_store_secrets_and_configs(tmp_path: Path, backend: str) -> None:
    secrets = {"OPENAI_API_KEY": secret(gateways={"prod": [key()]}),
               "ANTHROPIC_API_KEY": secret(gateways={"prod": [key(provider="anthropic"),
                                                              key(provider="anthropic", alias="batch",
                                                                  rate_limit=100, rate_limit_period=60)]})}
    estate = load_estate(project(tmp_path, secrets, backend=backend))
    desired = estate.desired_state("prod")
    got = [(k.secret, k.store_secret_name, k.default_config, k.scopes, k.rate_limit, k.rate_limit_period)
           for k in desired.byok_keys]
    assert got == [
        ("ANTHROPIC_API_KEY", "gw-prod_anthropic_batch", False, ("ai_gateway",), 100, 60),
        ("ANTHROPIC_API_KEY", "gw-prod_anthropic_default", True, ("ai_gateway",), None, None),
        ("OPENAI_API_KEY", "gw-prod_openai_default", True, ("ai_gateway",), None, None),
    ]
    assert desired.store is not None and desired.store.id == STORE_ID
    # The BYOK key's value is needed even where no Worker holds the secret and nothing else is stored.
    assert "ANTHROPIC_API_KEY" in desired.needed_values
    assert desired.store_secret_count == len(desired.store_secrets) + 3


def test_a_manifest_without_gateways_keeps_its_digest() -> None:
    data = {"version": 1, "backend": "legacy", "secrets": {"A": secret()}}
    plain = Manifest.model_validate(data)
    data["secrets"]["A"]["gateways"] = {}
    assert Manifest.model_validate(data).digest() == plain.digest()
    data["secrets"]["A"]["gateways"] = {"prod": [key()]}
    assert Manifest.model_validate(data).digest() != plain.digest()


@pytest.mark.parametrize("entry, where, words", [
    (key(gateway="My Gateway"), "secrets.OPENAI_API_KEY.gateways.prod[0].gateway", "is not a gateway id"),
    (key(provider="Open_AI"), "secrets.OPENAI_API_KEY.gateways.prod[0].provider", "is not a provider slug"),
    (key(alias="a b"), "secrets.OPENAI_API_KEY.gateways.prod[0].alias", "is not a valid alias"),
    (key(rate_limit=10), "secrets.OPENAI_API_KEY.gateways.prod[0]", "needs both `rate_limit` and"),
    (key(rate_limit=0, rate_limit_period=60), "secrets.OPENAI_API_KEY.gateways.prod[0].rate_limit", ""),
    ({"gateway": "gw-prod"}, "secrets.OPENAI_API_KEY.gateways.prod[0].provider", ""),
])
def test_each_bad_key_is_reported_where_it_is(tmp_path: Path, entry: dict[str, Any], where: str, words: str) -> None:
    errors, _ = problems(project(tmp_path, {"OPENAI_API_KEY": secret(gateways={"prod": [entry]})}))
    assert len(errors) == 1, errors
    assert "secrets_manifest.yaml:" in errors[0] and f": {where}: error: " in errors[0] and words in errors[0]
    assert "(fix: " in errors[0]
    line = int(errors[0].split(":")[1])
    assert line > 1


def test_one_default_per_gateway_and_provider_across_secrets(tmp_path: Path) -> None:
    secrets = {"OPENAI_API_KEY": secret(gateways={"prod": [key()]}),
               "OPENAI_BATCH_KEY": secret(gateways={"prod": [key(alias="batch", default=True)]})}
    errors, _ = problems(project(tmp_path, secrets))
    assert len(errors) == 1 and "two default 'openai' keys" in errors[0], errors
    assert "OPENAI_BATCH_KEY.gateways.prod[0]" in errors[0] and "set `default: false`" in errors[0]
    # Another alias is not a default unless it says so; another gateway or provider is its own.
    secrets["OPENAI_BATCH_KEY"] = secret(gateways={"prod": [key(alias="batch"), key(gateway="gw-two", default=True),
                                                            key(provider="groq")]})
    assert problems(project(tmp_path, secrets)) == ([], [])


def test_one_config_per_provider_and_alias(tmp_path: Path) -> None:
    secrets = {"OPENAI_API_KEY": secret(gateways={"prod": [key()]}),
               "OPENAI_OTHER": secret(gateways={"prod": [key(default=False)]})}
    errors, _ = problems(project(tmp_path, secrets))
    assert len(errors) == 1 and "two 'openai' keys with alias 'default'" in errors[0], errors


def test_gateways_of_an_unknown_stack_and_of_an_external_secret_are_refused(tmp_path: Path) -> None:
    errors, _ = problems(project(tmp_path, {"OPENAI_API_KEY": secret(gateways={"prd": [key()]})}))
    assert any("unknown stack 'prd'" in e and "did you mean 'prod'" in e for e in errors), errors
    secrets = {"OPENAI_API_KEY": secret(), "EXT": secret(external=True, gateways={"prod": [key(provider="groq")]})}
    errors, _ = problems(project(tmp_path, secrets))
    assert any("secret 'EXT' is external" in e and "EXT.gateways" in e for e in errors), errors


def test_a_key_needs_a_store_on_a_legacy_stack_too(tmp_path: Path) -> None:
    errors, _ = problems(project(tmp_path, {"OPENAI_API_KEY": secret(gateways={"prod": [key()]})}, stack={}))
    assert any("names no store" in e and "BYOK keys live in the store on every backend" in e for e in errors), errors


def test_byok_store_secrets_count_against_the_account(tmp_path: Path) -> None:
    # 99 secrets in the store and two BYOK keys: 101, one over Cloudflare's 100.
    secrets: dict[str, Any] = {n: secret(backend="store", scopes=["dex"]) for n in names(99)}
    secrets["OPENAI_API_KEY"] = secret(backend="store", gateways={"prod": [key(), key(alias="b")]})
    secrets.pop("S098")
    errors, _ = problems(project(tmp_path, secrets))
    assert any("would hold 101 store secrets" in e for e in errors), errors
    secrets["OPENAI_API_KEY"] = secret(backend="store", gateways={"prod": [key()]})
    errors, _ = problems(project(tmp_path, secrets))
    assert not any("store secrets" in e for e in errors), errors


def test_a_byok_name_taken_by_another_store_secret_is_refused(tmp_path: Path) -> None:
    secrets = {"OPENAI_API_KEY": secret(gateways={"prod": [key()]}),
               "gw-prod_openai_default": secret(backend="store", scopes=["ai_gateway"])}
    errors, _ = problems(project(tmp_path, secrets))
    assert any("BYOK store secret name 'gw-prod_openai_default'" in e and "collides" in e for e in errors), errors


def test_a_secret_only_a_gateway_uses_is_not_warned_as_unused(tmp_path: Path) -> None:
    secrets = {"OPENAI_API_KEY": secret(), "GROQ_API_KEY": secret(gateways={"prod": [key(provider="groq")]})}
    assert problems(project(tmp_path, secrets)) == ([], [])
