"""`init --from-wrangler CONFIG...`: a first manifest drafted offline from the wrangler configs a
team already has (TOML, JSON or JSONC): one Worker per config, its script per stack from the
config's `name` and each env's `name`, its secrets from `secrets.required`, its store bindings from
`secrets_store_secrets` (renames where a binding name differs from the store secret), and the names
in a `.dev.vars` or `.env` beside the config (names only: a value is never read into the draft).
What a config cannot say (description, owner, provider, rotation period) is left as a marked TODO
that `validate` reports until it is filled. No token, no API."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.dotenv_file import parse_dotenv
from ..core.errors import PlaneError
from ..core.manifest import leaves_project
from ..core.naming import is_binding_name, is_secret_name
from ..core.text import yaml_scalar
from ..core.yaml_source import decode_text
from .wrangler_config import REQUIRED, SECRETS, _parse, deployed_names

TODO = "TODO"
PROD_NAMES = ("prod", "production")
LOCAL_FILES = (".dev.vars", ".env")


@dataclass
class DraftWorker:
    key: str
    config: str                                             # as the manifest records it
    scripts: dict[str, str] = field(default_factory=dict)   # stack -> script
    envs: dict[str, str] = field(default_factory=dict)      # stack -> wrangler env
    secrets: dict[str, set[str]] = field(default_factory=dict)  # stack -> secret_text binding names
    store: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # stack -> binding -> (store id, name)
    local: set[str] = field(default_factory=set)            # names in .dev.vars / .env
    skipped: list[str] = field(default_factory=list)        # why lines of those were not taken as names


def _env_for(stack: str, envs: list[str]) -> tuple[bool, str | None]:
    """(found, the wrangler env that deploys `stack`: None for the top level)."""
    if stack in envs:
        return True, stack
    if stack in PROD_NAMES:
        other = next((e for e in envs if e in PROD_NAMES), None)
        return True, other
    return False, None


def _section(data: dict[str, Any], env: str | None) -> dict[str, Any]:
    if env is None:
        return data
    section = (data.get("env") or {}).get(env)
    return section if isinstance(section, dict) else {}


def _worker_key(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "worker"


def read_config(path: Path, stacks: list[str], base: Path) -> DraftWorker:
    if not path.is_file():
        raise PlaneError.at(str(path), "", "wrangler config not found", "pass the path of a wrangler.toml, "
                            "wrangler.json or wrangler.jsonc")
    text = decode_text(path.read_bytes(), str(path))
    data = _parse(path, text)
    names = deployed_names(path, text)
    if not names.get(None):
        raise PlaneError.at(str(path), "name", "the config names no Worker", "add `name = \"<script>\"` at its top level")
    envs = [e for e in names if e is not None]
    recorded = os.path.relpath(path.resolve(), base.resolve())
    if leaves_project(recorded):
        raise PlaneError.at(str(path), "", f"the config is outside the project folder {base.resolve()}: the manifest "
                            "records only configs inside it (dev, types and wrangler sync write beside them)",
                            "run init from a folder that holds the Workers' configs (the repository's root, say), or "
                            "pass --output there")
    worker = DraftWorker(_worker_key(str(names[None])), recorded)
    for stack in stacks:
        found, env = _env_for(stack, envs)
        if not found:
            continue
        script = names.get(env)
        if not script:
            continue
        worker.scripts[stack] = script
        if env is not None:
            worker.envs[stack] = env
        section = _section(data, env)
        required = (section.get(SECRETS) or {}).get(REQUIRED) or []
        worker.secrets[stack] = {str(n) for n in required}
        worker.store[stack] = {str(e.get("binding")): (str(e.get("store_id", "")), str(e.get("secret_name", "")))
                               for e in section.get("secrets_store_secrets") or [] if isinstance(e, dict)}
    for local in LOCAL_FILES:
        dotfile = path.parent / local
        if dotfile.is_file():
            _read_local(worker, dotfile)
    if not worker.scripts:
        raise PlaneError.at(str(path), "env", f"no wrangler env of this config deploys any of the stacks "
                            f"{', '.join(stacks)}", "name the stacks with --stacks (an env of the same name, or the top "
                                                    "level for prod)")
    return worker


def _read_local(worker: DraftWorker, dotfile: Path) -> None:
    """The names a `.dev.vars` or `.env` binds, never its values: a line that is not a plain
    `NAME=value` with a non-empty value (a pasted token, a line of a key left unquoted, the `==`
    that ends one) is left out and reported by its line number."""
    entries, problems = parse_dotenv(str(dotfile), decode_text(dotfile.read_bytes(), str(dotfile)), lambda name: None)
    worker.skipped += [f"{dotfile}: {p.message}: not taken as a name" for p in problems]
    for entry in entries:
        if not is_binding_name(entry.key) or not entry.value.strip("="):
            worker.skipped.append(f"{dotfile}: line {entry.line} is not a NAME=value line with a value (its text is "
                                  "not shown: it may be part of a value): not taken as a name")
            continue
        worker.local.add(entry.key)


def _strip(secret_name: str, stack: str, base_names: set[str]) -> tuple[str, str]:
    """(the manifest secret, the naming rule) of a store secret name seen in `stack`: the name
    itself, or with a suffix like _STAGING that the stack's rule adds."""
    for suffix in (f"_{stack.upper()}", f"-{stack.lower()}", f"_{stack.lower()}"):
        if secret_name.endswith(suffix) and secret_name[: -len(suffix)] in base_names:
            return secret_name[: -len(suffix)], "{name}" + suffix
    return secret_name, "{name}"


def draft(configs: list[Path], stacks: list[str], base: Path) -> tuple[str, list[str]]:
    """(the manifest YAML, notes for the stack files)."""
    workers = [read_config(path, stacks, base) for path in configs]
    seen_keys: dict[str, int] = defaultdict(int)
    for w in workers:
        seen_keys[w.key] += 1
        if seen_keys[w.key] > 1:
            w.key = f"{w.key}-{seen_keys[w.key]}"
    notes: list[str] = []
    # The secrets are the names the configs use without a stack's mark: Worker secrets anywhere, and
    # store secret names at the top level (prod); another stack may add a suffix (_STAGING).
    base_names = {n for w in workers for names in w.secrets.values() for n in names} | {
        name for w in workers for stack in PROD_NAMES for _, name in w.store.get(stack, {}).values()}
    rules: dict[str, set[str]] = defaultdict(set)
    store_ids: dict[str, set[str]] = defaultdict(set)
    bound: dict[str, dict[str, str]] = {}  # worker -> binding -> secret
    kinds: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # secret -> stack -> kinds
    stack_kinds: dict[str, set[str]] = defaultdict(set)
    for w in workers:
        mapping: dict[str, str] = {}
        store_of: dict[tuple[str, str], str] = {}
        for stack in w.scripts:  # store bindings first: they say which secret a binding name reads
            for binding, (store_id, secret_name) in sorted(w.store.get(stack, {}).items()):
                secret, rule = (secret_name, "{name}") if stack in PROD_NAMES else _strip(secret_name, stack, base_names)
                rules[stack].add(rule)
                store_ids[stack].add(store_id)
                mapping[binding] = secret
                store_of[(stack, binding)] = secret
        for stack in w.scripts:
            for binding in sorted(w.secrets.get(stack, set()) | w.local | {b for (s, b) in store_of if s == stack}):
                secret = mapping.setdefault(binding, binding)
                kind = "store" if (stack, binding) in store_of else "legacy"
                kinds[secret][stack].add(kind)
                stack_kinds[stack].add(kind)
        bound[w.key] = mapping
    on_store = {s for s, per in kinds.items() if any("store" in k for k in per.values())}
    secrets = sorted({s for m in bound.values() for s in m.values()})
    lines = ["# yaml-language-server: $schema=schema/secrets_manifest.schema.json",
             f"# Drafted by `python -m stacks init --from-wrangler` from {len(configs)} wrangler config(s): names only,",
             "# never values. Fill in every TODO (validate reports each one), then set the values:",
             "#   python -m stacks values load --stack <stack> FILE",
             "version: 1",
             "backend: legacy",
             "secrets:"]
    # Every name, script, env and path below comes from the configs: each is written as a YAML
    # scalar that reads back as exactly that text (a newline in one cannot start a key of its own).
    q = yaml_scalar
    for name in secrets:
        provider = re.sub(r"[^a-z0-9]+", "", name.split("_")[0].lower()) or "the issuer"
        lines += [f"  {q(name)}:",
                  f"    description: {TODO}",
                  f"    owner: {TODO}                      # who rotates it",
                  f"    provider: {TODO}                   # e.g. {provider}",
                  f"    rotation_days: {TODO}              # e.g. 90"]
        if name in on_store:
            lines.append("    backend: store                  # bound through Secrets Store in the configs")
        if not is_secret_name(name):
            notes.append(f"secret {q(name)} has characters Secrets Store refuses: rename it in the draft")
    lines.append("workers:")
    for w in workers:
        mapping = bound[w.key]
        stacks_of = [s for s in stacks if s in w.scripts]
        lines.append(f"  {q(w.key)}:")
        lines.append("    script_name:")
        lines += [f"      {q(s)}: {q(w.scripts[s])}" for s in stacks_of]
        lines.append(f"    stacks: [{', '.join(q(s) for s in stacks_of)}]")
        plain = sorted(b for b, s in mapping.items() if b == s)
        renamed = sorted((b, s) for b, s in mapping.items() if b != s)
        lines.append("    secrets:" + (" []" if not plain else ""))
        lines += [f"      - {q(b)}" for b in plain]
        if renamed:
            lines.append("    bindings:")
            lines += [f"      {q(b)}: {q(s)}" for b, s in renamed]
        lines.append("    wrangler:")
        lines.append(f"      config: {q(w.config)}")
        if w.envs:
            lines.append("      env: {" + ", ".join(f"{q(s)}: {q(e)}" for s, e in sorted(w.envs.items())) + "}")
        for b in mapping:
            if not is_binding_name(b):
                notes.append(f"binding {q(b)} of Worker '{w.key}' is not a JavaScript identifier: rename it in the draft")
        notes += w.skipped
    for stack in stacks:
        ids = sorted(i for i in store_ids.get(stack, set()) if i)
        if len(ids) == 1:
            notes.append(f"stack {stack}: Pulumi.{stack}.yaml needs `secrets-plane:store: {{adopt: {ids[0]}}}` (the store "
                         "the configs bind)")
        elif len(ids) > 1:
            notes.append(f"stack {stack}: the configs bind {len(ids)} stores ({', '.join(ids)}): Cloudflare has one per "
                         "account; check which account each stack is")
        found = sorted(rules.get(stack, set()))
        if found and found != ["{name}"]:
            notes.append(f"stack {stack}: its store secret names look like {found[0]}: set `secrets-plane:secretName: "
                         f"'{found[0]}'` in Pulumi.{stack}.yaml")
    for stack in stacks:
        held = sorted(s for s in on_store if "legacy" in kinds[s].get(stack, set()))
        if not held:
            continue
        if stack_kinds[stack] == {"legacy"}:
            notes.append(f"stack {stack}: every binding is a Worker secret there: hold it back with "
                         f"`secrets-plane:backend: legacy` in Pulumi.{stack}.yaml (the draft puts {', '.join(held)} on "
                         "the store, as the other stacks bind them)")
        else:
            notes.append(f"stack {stack}: {', '.join(held)} are Worker secrets there but on the store elsewhere, and the "
                         "stack has store bindings too: the draft puts them on the store everywhere; hold a Worker back "
                         "with `backend: legacy` if it must keep them (phased adoption)")
    notes.append(f"{len(secrets)} secret(s), {len(workers)} Worker(s) drafted; {len(secrets) * 4} TODO(s) to fill")
    return "\n".join(lines) + "\n", notes
