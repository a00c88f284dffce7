"""The live checks of AI Gateway BYOK keys against the fake API: preflight finds a missing gateway,
a gateway without the stack's store, and an unmanaged config on a provider and alias the stack
declares (and says which configs it will leave alone); the canary checks each config points at
the store secret the plane made. Read-only: not one write."""

from __future__ import annotations

from pathlib import Path

from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import FakeCloudflare
from test_byok_provider import GATEWAY, estate_with_keys, props_of, up_all

from stacks.live.account import LiveAccount
from stacks.live.canary import run_canary
from stacks.live.preflight import run_preflight


def preflight(tmp: Path) -> list[str]:
    estate = estate_with_keys(tmp)
    report = run_preflight(estate.manifest.manifest, estate.desired_state("prod"), LiveAccount(ACCOUNT))
    return [f.render() for f in report.findings]


def writes(fake: FakeCloudflare) -> list[tuple[str, str]]:
    return [c for c in fake.calls if c[0] != "GET"]


def test_preflight_blocks_a_missing_gateway(api: FakeCloudflare, tmp_path: Path) -> None:
    api.add_store(ACCOUNT, STORE_ID)
    found = preflight(tmp_path)
    assert any(f.startswith(f"BLOCKER AI Gateway {GATEWAY}: gateway '{GATEWAY}' does not exist") for f in found), found
    assert writes(api) == []


def test_preflight_blocks_a_gateway_without_the_stacks_store(api: FakeCloudflare, tmp_path: Path) -> None:
    api.add_store(ACCOUNT, STORE_ID)
    api.add_gateway(ACCOUNT, GATEWAY, store_id="another-store")
    found = preflight(tmp_path)
    assert any("reads its BYOK keys from store another-store, not from the stack's store" in f
               and "attach the stack's store" in f for f in found), found


def test_preflight_blocks_an_unmanaged_config_on_a_declared_provider_and_alias(api: FakeCloudflare,
                                                                                tmp_path: Path) -> None:
    api.add_store(ACCOUNT, STORE_ID)
    api.add_gateway(ACCOUNT, GATEWAY, store_id=STORE_ID)
    api.seed_store(ACCOUNT, STORE_ID, ["theirs"])
    theirs = api.store_secret_named(STORE_ID, "theirs")
    assert theirs is not None
    clash = api.add_provider_config(ACCOUNT, GATEWAY, "openai", "default", theirs.id)
    other = api.add_provider_config(ACCOUNT, GATEWAY, "groq", "default", theirs.id)
    found = preflight(tmp_path)
    assert any(f.startswith(f"BLOCKER AI Gateway {GATEWAY} openai/default: a provider config the plane does not "
                            f"manage (id {clash['id']})") for f in found), found
    assert any(f.startswith("notice ") and f"groq/default ({other['id']})" in f and "left as they are" in f
               for f in found), found
    assert not any("anthropic/default" in f and "BLOCKER" in f for f in found)
    assert writes(api) == []


def test_preflight_passes_a_ready_gateway_and_counts_the_keys_store_secrets(api: FakeCloudflare,
                                                                            tmp_path: Path) -> None:
    api.add_store(ACCOUNT, STORE_ID)
    api.add_gateway(ACCOUNT, GATEWAY, store_id=STORE_ID)
    estate = estate_with_keys(tmp_path)
    report = run_preflight(estate.manifest.manifest, estate.desired_state("prod"), LiveAccount(ACCOUNT))
    assert not [f for f in report.blockers if "Gateway" in f.subject], report.findings
    assert report.quota is not None and report.quota["creates"] == 2


def test_the_canary_checks_each_config_points_at_the_plane_s_secret(api: FakeCloudflare, tmp_path: Path) -> None:
    from test_byok_provider import ByokHost

    api.add_store(ACCOUNT, STORE_ID)
    api.add_gateway(ACCOUNT, GATEWAY, store_id=STORE_ID)
    host = ByokHost({"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_BASE_URL": api.base_url})
    try:
        up_all(host, props_of(estate_with_keys(tmp_path)))
    finally:
        host.close()
    api.add_script(ACCOUNT, "api-prod", [{"type": "secret_text", "name": "OPENAI_API_KEY"}])
    desired = estate_with_keys(tmp_path).desired_state("prod")
    report = run_canary(desired, LiveAccount(ACCOUNT), {}, wait_s=0)
    assert report.ok, report.mismatches
    # Someone repoints the OpenAI config at a secret of their own in the dashboard.
    api.seed_store(ACCOUNT, STORE_ID, ["theirs"])
    theirs = api.store_secret_named(STORE_ID, "theirs")
    assert theirs is not None
    config = next(c for c in api.provider_configs[(ACCOUNT, GATEWAY)].values() if c["provider_slug"] == "openai")
    config["secret_id"] = theirs.id
    calls = len(writes(api))
    report = run_canary(desired, LiveAccount(ACCOUNT), {}, wait_s=0)
    assert [(m.worker, m.binding) for m in report.mismatches] == [("(ai gateway)", f"{GATEWAY}:openai/default")]
    assert f"-> secret {theirs.id}" in report.mismatches[0].found
    assert len(writes(api)) == calls
