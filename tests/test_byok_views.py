"""Every view of a stack shows each AI Gateway BYOK key with its gateway: the offline plan, the
pull-request diff (a key made, removed, reconfigured, set anew), the overview and the audit (where
a key's store secret is the plane's, never an orphan)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import yaml
from conftest import ACCOUNT, ROOT, STORE_ID
from fake_cloudflare import FakeCloudflare
from test_byok_provider import GATEWAY, ByokHost, estate_with_keys, props_of, up_all

from stacks.core.changes import compare, render_markdown, render_text
from stacks.core.estate import load_estate
from stacks.core.overview import build_overview
from stacks.live.account import LiveAccount
from stacks.live.audit import build_audit, render_json, render_table
from stacks.live.audit import render_markdown as audit_markdown
from stacks.ops.diff import _inputs
from stacks.resources.plan import build_plan
from stacks.resources.plan import render_text as plan_text


def test_the_plan_lists_each_key_with_its_gateway_and_its_rotation_cost(tmp_path: Path) -> None:
    estate = estate_with_keys(tmp_path)
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    plan = build_plan(estate, "prod")
    assert [(k["gateway_id"], k["provider_slug"], k["alias"], k["secret"], k["secret_name"]) for k in plan["byok"]] == [
        (GATEWAY, "anthropic", "default", "ANTHROPIC_API_KEY", f"{GATEWAY}_anthropic_default"),
        (GATEWAY, "openai", "default", "OPENAI_API_KEY", f"{GATEWAY}_openai_default")]
    costs = {r["secret"]: r for r in plan["rotation"]}
    assert costs["ANTHROPIC_API_KEY"]["store_updates"] == 1 and costs["ANTHROPIC_API_KEY"]["worker_versions"] == 0
    assert costs["OPENAI_API_KEY"]["byok_keys"] == 1
    text = plan_text(plan)
    assert (f"  gateway {GATEWAY}: openai/default default <- OPENAI_API_KEY (store secret {GATEWAY}_openai_default)"
            in text.splitlines())


def test_the_diff_says_what_happens_to_each_key(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "head").mkdir()
    base = estate_with_keys(tmp_path / "base")
    head_dir = tmp_path / "head"
    estate_with_keys(head_dir)
    manifest = head_dir / "secrets_manifest.yaml"
    # The Anthropic key leaves the gateway, the OpenAI one gains a rate limit and a second alias.
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["ANTHROPIC_API_KEY"].pop("gateways")
    data["secrets"]["OPENAI_API_KEY"]["gateways"]["prod"] = [
        {"gateway": GATEWAY, "provider": "openai", "rate_limit": 100, "rate_limit_period": 60},
        {"gateway": GATEWAY, "provider": "openai", "alias": "batch"}]
    manifest.write_text(yaml.safe_dump(data))
    head = load_estate(head_dir)
    changes = compare(_inputs(base, "prod"), _inputs(head, "prod"), "prod")
    assert changes.byok == [
        f"gateway {GATEWAY} openai/batch <- OPENAI_API_KEY: created (store secret {GATEWAY}_openai_batch, then the "
        "provider config)",
        f"gateway {GATEWAY} anthropic/default <- ANTHROPIC_API_KEY: removed (the provider config and store secret "
        f"{GATEWAY}_anthropic_default are deleted)",
        f"gateway {GATEWAY} openai/default <- OPENAI_API_KEY: provider config replaced (default true, rate limit 100 "
        "per 60)",
    ]
    assert f"  AI Gateway BYOK gateway {GATEWAY} openai/batch <- OPENAI_API_KEY: created" in render_text(changes)
    assert f"- AI Gateway BYOK `gateway {GATEWAY} openai/batch <- OPENAI_API_KEY`: `created" in render_markdown(changes)
    # A new value of a key's secret: its store secret only.
    base_inputs = _inputs(head, "prod")
    assert base_inputs is not None
    rotated = compare(dataclasses.replace(base_inputs, values={"OPENAI_API_KEY": "a"}),
                      dataclasses.replace(base_inputs, values={"OPENAI_API_KEY": "b"}), "prod")
    assert f"gateway {GATEWAY} openai/default <- OPENAI_API_KEY: value set anew (store secret {GATEWAY}_openai_default "\
           "only; no config write, no Worker version)" in rotated.byok


def test_the_overview_shows_where_each_key_lives(tmp_path: Path) -> None:
    overview = build_overview(estate_with_keys(tmp_path))
    places = {row.secret: row.places["prod"] for row in overview.secrets}
    assert places["ANTHROPIC_API_KEY"] == f"AI Gateway {GATEWAY} anthropic/default (store {GATEWAY}_anthropic_default)"
    assert places["OPENAI_API_KEY"] == (f"Worker secret on 1 Worker(s) + AI Gateway {GATEWAY} openai/default (store "
                                        f"{GATEWAY}_openai_default)")


def test_the_audit_lists_each_key_and_takes_its_secret_for_the_planes(api: FakeCloudflare, tmp_path: Path) -> None:
    api.add_store(ACCOUNT, STORE_ID)
    api.add_gateway(ACCOUNT, GATEWAY, store_id=STORE_ID)
    estate = estate_with_keys(tmp_path, backend="store")
    host = ByokHost({"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_BASE_URL": api.base_url})
    try:
        up_all(host, props_of(estate))
    finally:
        host.close()
    api.seed_store(ACCOUNT, STORE_ID, ["OPENAI_API_KEY"])
    api.add_script(ACCOUNT, "api-prod", [{"type": "secrets_store_secret", "name": "OPENAI_API_KEY",
                                          "store_id": STORE_ID, "secret_name": "OPENAI_API_KEY"}])
    report = build_audit(estate, estate.desired_state("prod"), LiveAccount(ACCOUNT), dt.date(2026, 12, 1))
    assert [(b.gateway, b.key, b.secret, b.status) for b in report.byok] == [
        (GATEWAY, "anthropic/default", "ANTHROPIC_API_KEY", "ok"), (GATEWAY, "openai/default", "OPENAI_API_KEY", "ok")]
    assert report.orphans == []
    assert "AI Gateway BYOK keys (2):" in render_table(report)
    assert "## AI Gateway BYOK keys" in audit_markdown(report) and '"byok"' in render_json(report)


def test_rotate_targets_each_key_beside_the_store_secret_and_workers(tmp_path: Path) -> None:
    from stacks.ops.rotate import rotation_target

    estate = estate_with_keys(tmp_path, backend="store")
    target = rotation_target(estate, "OPENAI_API_KEY", "prod")
    assert ("urn:pulumi:prod::secrets-plane::secrets-plane:index:SecretsPlane$pulumi-python:dynamic/secrets-plane:"
            f"GatewayProviderKey::byok-{GATEWAY}_openai_default") in target.urns
    assert f"AI Gateway {GATEWAY} key openai/default (store secret {GATEWAY}_openai_default" in target.describe()
    # A secret only a gateway uses is rotated too (its key is what carries it).
    only = rotation_target(estate, "ANTHROPIC_API_KEY", "prod")
    assert len(only.urns) == 1 and only.urns[0].endswith(f"::byok-{GATEWAY}_anthropic_default")
