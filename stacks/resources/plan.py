"""The offline plan: run the real program under mocks with a stack's config and describe it.

Encrypted values are shown as placeholders; missing ones are listed (the real preview would
stop on them). Nothing here can print a value: the program only ever sees placeholders.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.backends import Backend
from ..core.desired_state import DesiredState
from ..core.estate import Estate
from ..core.externals import external_needs
from ..core.naming import BINDINGS_TYPE, BYOK_TYPE, STORE_SECRET_TYPE, STORE_TYPE
from ..core.stack_config import NAMESPACE, Placeholder
from .offline import ProgramRun, redact, reveal, run_program

STORE_LOOKUP = "cloudflare:index/getSecretsStore:getSecretsStore"


def plan_config(estate: Estate, stack: str, backend: Backend | None) -> tuple[dict[str, Any], list[str], list[str]]:
    """The stack's config as the CLI would pass it, values replaced by placeholders.

    Returns (config, secret keys, names of values the stack file does not set)."""
    loaded = estate.stacks[stack]
    assert loaded.doc is not None
    file_config = dict((loaded.doc.data or {}).get("config") or {})
    config = {k: v for k, v in file_config.items() if k.startswith(f"{NAMESPACE}:")
              and k not in (f"{NAMESPACE}:values", f"{NAMESPACE}:previous")}
    if backend is not None:
        config[f"{NAMESPACE}:backend"] = backend
    desired = estate.desired_state(stack, backend)
    present = set(loaded.settings.value_names)
    missing = [name for name in desired.needed_values if name not in present]
    values = {name: Placeholder.TEXT for name in sorted(present | set(desired.needed_values))}
    config[f"{NAMESPACE}:values"] = values
    keys = [f"{NAMESPACE}:values"]
    if loaded.settings.previous:
        config[f"{NAMESPACE}:previous"] = {name: {"value": Placeholder.TEXT, "retires": day}
                                           for name, day in sorted(loaded.settings.previous.items())}
        keys.append(f"{NAMESPACE}:previous")
    return config, keys, missing


def assumed_promotion_source(estate: Estate, stack: str, backend: Backend | None) -> dict[str, Any] | None:
    """Offline, the stack production is promoted from is assumed to run this manifest (with the
    planned backend); `pulumi preview` checks the real one."""
    source = estate.stacks[stack].settings.promote_from
    if not source:
        return None
    name = source.rsplit("/", 1)[-1]
    source_backend = backend
    if source_backend is None and name in estate.stacks:
        source_backend = estate.stacks[name].settings.effective_backend(estate.manifest.manifest.backend)
    return {"from": source, "assumes": {"manifest_digest": estate.manifest.manifest.digest(),
                                        "backend": source_backend or estate.manifest.manifest.backend}}


def build_plan(estate: Estate, stack: str, backend: Backend | None = None,
               manifest_file: str | None = None) -> dict[str, Any]:
    config, secret_keys, missing = plan_config(estate, stack, backend)
    promotion = assumed_promotion_source(estate, stack, backend)
    outputs = {promotion["from"]: promotion["assumes"]} if promotion else None
    desired = estate.desired_state(stack, backend)
    externals = [s.store_secret_name for s in desired.store_secrets if s.external]
    # Offline, external store secrets are assumed to exist; `pulumi preview` looks them up.
    run = run_program(estate.project_dir, stack, config, secret_keys, stack_outputs=outputs,
                      store_secret_names=externals, manifest_file=manifest_file)
    # The program logs the estate's warnings too (`pulumi preview` shows them): each once here.
    warnings = [p for p in estate.warnings_for(stack) if "value(s) not set" not in p.message]
    seen = {p.render() for p in estate.problems.warnings}
    plan = describe(run, missing, [p.describe() for p in warnings] + [w for w in run.warnings if w not in seen])
    plan["store_secrets"] += [{"name": s.secret, "store_secret_name": s.store_secret_name, "external": True}
                              for s in desired.store_secrets if s.external]
    plan["mode"] = desired.mode
    previous = {(w.script_name, b.name) for w in desired.workers for b in w.bindings if b.slot == "previous"}
    for worker in plan["workers"]:
        for binding in worker["bindings"]:
            if (worker["script_name"], binding["name"]) in previous:
                binding["slot"] = "previous"
    plan["overlaps"] = [{"secret": o.secret, "days": o.days, "retires": o.retires} for o in desired.overlaps]
    plan["rotation"] = rotation_costs(desired)
    plan["externals"] = [{"secret": n.secret, "kind": n.kind, "name": n.name, "workers": list(n.scripts),
                          "where": n.where(desired), "commands": n.commands(desired)} for n in external_needs(desired)]
    plan["promotion"] = promotion
    keys = byok_keys(run)
    if keys:  # only when there are any: a plan without keys reads as it did
        plan["byok"] = keys
    return plan


def byok_keys(run: ProgramRun) -> list[dict[str, Any]]:
    """Each AI Gateway BYOK key the program declares: the gateway, the provider and alias, the
    secret it holds and the store secret the gateway looks it up by (names only)."""
    keys = []
    for res in run.of_type(BYOK_TYPE):
        inputs = res.inputs
        key = {k: inputs.get(k) for k in ("gateway_id", "provider_slug", "alias", "default_config", "secret",
                                          "secret_name")}
        if inputs.get("rate_limit") is not None:
            key.update(rate_limit=inputs.get("rate_limit"), rate_limit_period=inputs.get("rate_limit_period"))
        keys.append(key)
    return sorted(keys, key=lambda k: (str(k["gateway_id"]), str(k["provider_slug"]), str(k["alias"])))


def rotation_costs(desired: DesiredState) -> list[dict[str, Any]]:
    """Per secret, what a new value rewrites: its store secret, plus one Worker version per Worker
    holding a secret_text it owns (legacy bindings and fallback copies). An external secret
    rotates outside the plane: it costs the plane nothing, and says so."""
    external = {s.secret for s in desired.store_secrets if s.external} | {
        b.secret for w in desired.workers for b in w.bindings if b.external}
    costs = []
    for secret in sorted({s.secret for s in desired.store_secrets} | {b.secret for w in desired.workers for b in w.bindings}
                         | {k.secret for k in desired.byok_keys}):
        stores, workers = desired.rotation(secret)
        overlap = desired.overlap(secret)
        # Outside a window the previous store secret already holds the value a rotation moves into
        # it: only the current one is written. Inside one, both are. Each BYOK key of it is one
        # more store-secret write (its own, named for the gateway).
        updates = len(stores) if overlap is None or overlap.open else min(len(stores), 1)
        byok = len(desired.byok_for(secret))
        cost: dict[str, Any] = {"secret": secret, "store_updates": updates + byok,
                                "worker_versions": len(workers), "workers": [w.worker for w in workers]}
        if byok:
            cost["byok_keys"] = byok
        if secret in external:
            cost["external"] = True
        costs.append(cost)
    return costs


def describe(run: ProgramRun, missing: list[str], warnings: list[str]) -> dict[str, Any]:
    outputs = redact(run.outputs)
    store: dict[str, Any] | None = None
    for res in run.of_type(STORE_TYPE):
        store = {"mode": "create", "name": res.inputs.get("name"), "protect": res.protect,
                 "retain_on_delete": res.retain_on_delete}
    for token, args in run.invokes:
        if token == STORE_LOOKUP:
            store = {"mode": "adopt", "id": args.get("storeId")}
    store_secrets = [
        {"name": res.name.removeprefix("secret-"), "store_secret_name": res.inputs.get("name"),
         "scopes": res.inputs.get("scopes")}
        for res in run.of_type(STORE_SECRET_TYPE)
    ]

    workers = []
    for res in run.of_type(BINDINGS_TYPE):
        bindings = []
        for spec in reveal(res.inputs.get("bindings") or []):
            entry = {"name": spec["name"], "type": spec["type"], "secret": spec["secret"]}
            if spec["type"] == "secrets_store_secret":
                entry["store_secret_name"] = spec["secret_name"]
            entry.update({k: spec[k] for k in ("role", "external") if k in spec})
            bindings.append(entry)
        workers.append({"worker": res.inputs.get("worker"), "script_name": res.inputs.get("script_name"),
                        "bindings": sorted(bindings, key=lambda b: b["name"])})
    return {
        "stack": run.stack,
        "backend": outputs.get("backend"),
        "manifest_digest": outputs.get("manifest_digest"),
        "store": store,
        "store_secrets": sorted(store_secrets, key=lambda s: s["name"]),
        "workers": sorted(workers, key=lambda w: w["worker"]),
        "resources": sorted(({"type": r.type, "name": r.name} for r in run.resources),
                            key=lambda r: (r["type"], r["name"])),
        "missing_values": missing,
        "warnings": warnings,
    }


def render_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False)


def render_text(plan: dict[str, Any]) -> str:
    lines = [
        f"stack {plan['stack']}: backend {plan['backend']}"
        + (f" (credentials {plan['mode']})" if plan["mode"] != plan["backend"] else "")
        + f", manifest {plan['manifest_digest'][:12]}",
    ]
    store = plan["store"]
    if store is None:
        lines.append("store: none (every value lives in its Workers as secret_text)")
    elif store["mode"] == "adopt":
        lines.append(f"store: adopt existing store {store['id']} (read-only, never deleted)")
    else:
        lines.append(f"store: create '{store['name']}' (protect={store['protect']}, "
                     f"retain_on_delete={store['retain_on_delete']})")
    if plan["store_secrets"]:
        lines.append(f"store secrets ({len(plan['store_secrets'])}):")
        for s in plan["store_secrets"]:
            if s.get("external"):
                lines.append(f"  {s['store_secret_name']:<40} external: looked up by name, never written")
            else:
                lines.append(f"  {s['store_secret_name']:<40} scopes={','.join(s['scopes'])}")
    lines.append(f"workers ({len(plan['workers'])}):")
    for w in plan["workers"]:
        lines.append(f"  {w['worker']} -> script {w['script_name']}: {len(w['bindings'])} bindings, one Worker version "
                     "per change")
        for b in w["bindings"]:
            target = f" -> store secret {b['store_secret_name']}" if "store_secret_name" in b else ""
            source = f" (secret {b['secret']})" if b["secret"] != b["name"] else ""
            tag = " [fallback copy]" if b.get("role") == "fallback" else " [external: kept as it is]" if b.get("external") else ""
            if b.get("slot") == "previous":
                tag = " [previous value" + (", fallback copy]" if b.get("role") == "fallback" else "]")
            lines.append(f"    {b['name']:<36} {b['type']}{source}{target}{tag}")
    externals = plan.get("externals") or []
    if externals:
        lines.append(f"external secrets ({len(externals)}; bound, never written: each must already exist):")
        for e in externals:
            lines.append(f"  {e['secret']}: must already exist {e['where']}")
            lines += [f"      create it: {c}" for c in e["commands"]]
    rotation = plan.get("rotation") or []
    if rotation:
        owned = [r for r in rotation if not r.get("external")]
        store_only = sum(1 for r in owned if r["store_updates"] and r["worker_versions"] == 0)
        outside = len(rotation) - len(owned)
        lines.append(f"rotation cost ({len(owned)} secrets the plane rotates; {store_only} in the store alone, no Worker "
                     "version" + (f"; {outside} external, rotated outside the plane" if outside else "") + "):")
        for r in rotation:
            if r.get("external"):
                lines.append(f"    {r['secret']:<36} external: rotated where it is set, no plane write")
                continue
            where = f" ({', '.join(r['workers'])})" if r["workers"] else ""
            lines.append(f"    {r['secret']:<36} {r['store_updates']} store update(s) + {r['worker_versions']} Worker "
                         f"version(s){where}")
    overlaps = plan.get("overlaps") or []
    if overlaps:
        lines.append(f"rotation with overlap ({len(overlaps)}; each binding has <BINDING>_PREVIOUS beside it):")
        for o in overlaps:
            window = (f"window open: the previous value retires on {o['retires']}" if o["retires"] else
                      "no window open: _PREVIOUS holds the current value")
            lines.append(f"    {o['secret']:<36} {o['days']} day(s); {window}")
    if plan.get("byok"):
        lines.append(f"AI Gateway BYOK keys ({len(plan['byok'])}; each a store secret named for the gateway and a "
                     "provider config pointing at it; a rotation rewrites the secret only):")
        for k in plan["byok"]:
            extra = " default" if k["default_config"] else ""
            if k.get("rate_limit") is not None:
                extra += f" rate_limit={k['rate_limit']}/{k['rate_limit_period']}"
            lines.append(f"  gateway {k['gateway_id']}: {k['provider_slug']}/{k['alias']}{extra} <- {k['secret']} "
                         f"(store secret {k['secret_name']})")
    lines.append(f"resources declared: {len(plan['resources'])}")
    promotion = plan.get("promotion")
    if promotion:
        lines.append(f"promotion gate: applies only if {promotion['from']} runs manifest "
                     f"{promotion['assumes']['manifest_digest'][:12]} with backend {promotion['assumes']['backend']} "
                     "(assumed here; checked by pulumi preview)")
    if plan["missing_values"]:
        lines.append(f"values not set in Pulumi.{plan['stack']}.yaml ({len(plan['missing_values'])}; "
                     "shown as placeholders here, `pulumi preview` stops on them unless ESC provides them):")
        lines.append(f"  load them all: python -m stacks values load --stack {plan['stack']} FILE   (dotenv or JSON; "
                     "`-` reads stdin)")
        lines.append("  or one by one (each value on stdin):")
        for name in plan["missing_values"]:
            lines.append(f"    pulumi config set --secret --path '{NAMESPACE}:values.{name}' --stack {plan['stack']}")
    for w in plan["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
