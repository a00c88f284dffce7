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
from ..core.naming import is_binding_name, is_secret_name, store_secret_name
from ..core.text import yaml_scalar
from ..core.yaml_source import decode_text
from .config_edit import REQUIRED, SECRETS
from .wrangler_config import _parse, deployed_names

TODO = "TODO"
PROD_NAMES = ("prod", "production")
# What repositories commit is the example (names, values left empty); the others hold real values,
# of which only the names are read.
LOCAL_FILES = (".dev.vars", ".env", ".dev.vars.example", ".env.example")
EXAMPLE_SUFFIX = ".example"


@dataclass
class DraftWorker:
    key: str
    config: str                                             # as the manifest records it
    scripts: dict[str, str] = field(default_factory=dict)   # stack -> script
    envs: dict[str, str] = field(default_factory=dict)      # stack -> wrangler env
    secrets: dict[str, set[str]] = field(default_factory=dict)  # stack -> secret_text binding names
    store: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # stack -> binding -> (store id, name)
    local: set[str] = field(default_factory=set)            # names in .dev.vars / .env (and their examples)
    local_env: dict[str, set[str]] = field(default_factory=dict)  # wrangler env -> names in its .dev.vars.<env>
    plain_vars: dict[str, set[str]] = field(default_factory=dict)  # stack -> its `vars` (plain text, not secrets)
    skipped: list[str] = field(default_factory=list)        # why lines of those were not taken as names

    def bound(self, stack: str) -> list[str]:
        """Every binding the Worker has in the stack: its store bindings, its `secrets.required`,
        and the local files' names that no env declares as a plain-text var or a store binding (a
        local value stands in for those; it says nothing of a Worker secret)."""
        elsewhere = {name for names in self.plain_vars.values() for name in names} | {
            name for bindings in self.store.values() for name in bindings}
        store = set(self.store.get(stack, {}))
        # wrangler dev --env E reads .dev.vars.E instead of .dev.vars when there is one.
        local = self.local_env.get(self.envs.get(stack) or "", self.local)
        return sorted(store | self.secrets.get(stack, set()) | (local - elsewhere))


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
    if not any(names.values()):
        raise PlaneError.at(str(path), "name", "the config names no Worker", "add `name = \"<script>\"` at its top level "
                            "(or in each env)")
    envs = [e for e in names if e is not None]
    recorded = os.path.relpath(path.resolve(), base.resolve())
    if leaves_project(recorded):
        raise PlaneError.at(str(path), "", f"the config is outside the project folder {base.resolve()}: the manifest "
                            "records only configs inside it (dev, types and wrangler sync write beside them)",
                            "run init from a folder that holds the Workers' configs (the repository's root, say), or "
                            "pass --output there")
    # A Worker named only per env (wrangler allows it) takes its key from production's env, else the first.
    first = next(n for e, n in sorted(names.items(), key=lambda item: item[0] not in PROD_NAMES) if n)
    worker = DraftWorker(_worker_key(str(names[None] or first)), recorded)
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
        worker.plain_vars[stack] = {str(n) for n in (section.get("vars") or {})} if isinstance(section.get("vars"), dict) \
            else set()
        worker.store[stack] = {str(e.get("binding")): (str(e.get("store_id", "")), str(e.get("secret_name", "")))
                               for e in section.get("secrets_store_secrets") or [] if isinstance(e, dict)}
    read = {local: _read_local(worker, path.parent / local) for local in LOCAL_FILES if (path.parent / local).is_file()}
    worker.local = set().union(*read.values())
    examples = set().union(*(names for local, names in read.items() if local.endswith(EXAMPLE_SUFFIX)))
    for env in sorted(set(worker.envs.values())):
        dotfile = path.parent / f".dev.vars.{env}"
        if dotfile.is_file():
            worker.local_env[env] = _read_local(worker, dotfile) | examples
    if not worker.scripts:
        raise PlaneError.at(str(path), "env", f"no wrangler env of this config deploys any of the stacks "
                            f"{', '.join(stacks)}", "name the stacks with --stacks (an env of the same name, or the top "
                                                    "level for prod)")
    return worker


def _read_local(worker: DraftWorker, dotfile: Path) -> set[str]:
    """The names a `.dev.vars` or `.env` binds, never its values: a line that is not a plain
    `NAME=value` (a pasted token, a line of a key left unquoted, the `==`
    that ends one) is left out and reported by its line number."""
    text = decode_text(dotfile.read_bytes(), str(dotfile))
    entries, problems = parse_dotenv(str(dotfile), text, lambda name: None)
    worker.skipped += [f"{dotfile}: {p.message}: not taken as a name" for p in problems]
    names: set[str] = set()
    example = dotfile.name.endswith(EXAMPLE_SUFFIX)
    lines = text.splitlines()
    for entry in entries:
        # `abc==` (or `abc=`) is the end of a wrapped base64 value, not a name: outside an example,
        # an empty value counts only written as quotes (`NAME=""`).
        if not is_binding_name(entry.key) or not (example or entry.value.strip("=") or _quoted_empty(lines, entry.line)):
            worker.skipped.append(f"{dotfile}: line {entry.line} is not a NAME=value line (its text is "
                                  "not shown: it may be part of a value): not taken as a name")
            continue
        names.add(entry.key)
    return names


def _quoted_empty(lines: list[str], line: int) -> bool:
    return 0 < line <= len(lines) and re.search(r"=\s*(\"\"|'')\s*(#.*)?$", lines[line - 1]) is not None


def _strip(secret_name: str, stack: str, base_names: set[str]) -> tuple[str, str]:
    """(the manifest secret, the naming rule) of a store secret name seen in `stack`: the name
    itself, or with a suffix like _STAGING that the stack's rule adds."""
    for suffix in (f"_{stack.upper()}", f"-{stack.lower()}", f"_{stack.lower()}"):
        if secret_name.endswith(suffix) and secret_name[: -len(suffix)] in base_names:
            return secret_name[: -len(suffix)], "{name}" + suffix
    return secret_name, "{name}"


Kind = str  # "store" or "legacy": what a binding is on the Worker today
STORE, LEGACY = "store", "legacy"


@dataclass
class Backends:
    """The manifest's own backend rule (core/backends.py) fitted to what the configs bind today:
    a `backend` per Worker and per secret and a legacy pin per stack, so that every binding
    resolves to the type it has now; the pairs no setting can give are listed, to be left out."""

    workers: dict[str, str] = field(default_factory=dict)  # worker key -> backend
    secrets: dict[str, str] = field(default_factory=dict)  # secret -> backend
    held_stacks: list[str] = field(default_factory=list)   # stacks pinned legacy in their stack file
    unexpressible: dict[tuple[str, str], str] = field(default_factory=dict)  # (worker, binding) -> why


def _resolve(worker: str | None, secret: str | None) -> Kind:
    """core/backends.resolve_backend with the draft's manifest backend (legacy) and no stack pin."""
    if LEGACY in (worker, secret):
        return LEGACY
    return STORE if STORE in (worker, secret) else LEGACY


def fit_backends(kinds: dict[tuple[str, str], dict[str, Kind]], secret_of: dict[tuple[str, str], str],
                 stacks: list[str]) -> Backends:
    """`kinds`: (worker, binding) -> stack -> its type there today. The fewest settings, in the
    order a reader expects them: a stack where nothing is on the store is pinned legacy; a secret
    on the store wherever it is bound moves as a secret, a Worker all on the store as a Worker;
    a store binding left over moves its Worker (holding that Worker's other secrets) or its secret
    (holding the Workers that keep it as a Worker secret), whichever holds nothing on the store."""
    out = Backends()
    on_store = {st for per in kinds.values() for st, k in per.items() if k == STORE}
    out.held_stacks = [st for st in stacks if st not in on_store and on_store]
    live = [st for st in stacks if st not in out.held_stacks]
    pairs: dict[tuple[str, str], Kind] = {}
    for pair, per in kinds.items():
        seen = {per[st] for st in live if st in per}
        if len(seen) > 1:
            shown = ", ".join(f"{per[st]} in {st}" for st in live if st in per)
            out.unexpressible[pair] = f"{shown}: a binding has one type in every stack that is not held back"
        elif seen:
            pairs[pair] = seen.pop()
    by_secret: dict[str, list[Kind]] = defaultdict(list)
    by_worker: dict[str, list[Kind]] = defaultdict(list)
    for (worker, binding), kind in pairs.items():
        by_secret[secret_of[(worker, binding)]].append(kind)
        by_worker[worker].append(kind)
    for secret, all_kinds in sorted(by_secret.items()):
        if set(all_kinds) == {STORE}:
            out.secrets[secret] = STORE
    for worker, all_kinds in sorted(by_worker.items()):
        if set(all_kinds) == {STORE}:
            out.workers[worker] = STORE
    for (worker, binding), kind in sorted(pairs.items()):
        secret = secret_of[(worker, binding)]
        if kind != STORE or _resolve(out.workers.get(worker), out.secrets.get(secret)) == STORE:
            continue
        if worker in out.workers or secret in out.secrets:
            continue  # a hold already stands in the way: reported below
        others = {secret_of[p] for p, k in pairs.items() if p[0] == worker and k == LEGACY}
        if not any(STORE in by_secret[s] or out.secrets.get(s) == STORE for s in others):
            out.workers[worker] = STORE
            out.secrets.update({s: LEGACY for s in others})
            continue
        keepers = {p[0] for p, k in pairs.items() if secret_of[p] == secret and k == LEGACY}
        if not any(STORE in by_worker[w] or out.workers.get(w) == STORE for w in keepers):
            out.secrets[secret] = STORE
            out.workers.update({w: LEGACY for w in keepers})
    for pair, kind in sorted(pairs.items()):
        got = _resolve(out.workers.get(pair[0]), out.secrets.get(secret_of[pair]))
        if got != kind:
            out.unexpressible[pair] = (f"{kind} today, but its Worker's and its secret's other bindings would make it "
                                       f"{got}")
    return out


def _most_common(rules: list[str]) -> str:
    if not rules:
        return "{name}"
    counts: dict[str, int] = defaultdict(int)
    for rule in rules:
        counts[rule] += 1
    return sorted(counts, key=lambda r: (-counts[r], r != "{name}", r))[0]


def draft(configs: list[Path], stacks: list[str], base: Path) -> tuple[str, list[str]]:
    """(the manifest YAML, notes for the stack files). The draft reproduces every binding as it is
    today (its type, its store secret's name per stack); applying it moves nothing."""
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
    store_ids: dict[str, set[str]] = defaultdict(set)
    # (stack, binding's store name, the secret and rule that name suggests) for every store binding.
    seen_store: dict[tuple[str, str], dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for w in workers:
        for stack in w.scripts:
            for binding, (store_id, secret_name) in w.store.get(stack, {}).items():
                secret, rule = (secret_name, "{name}") if stack in PROD_NAMES else _strip(secret_name, stack, base_names)
                store_ids[stack].add(store_id)
                seen_store[(w.key, binding)][stack] = (secret_name, secret, rule)
    rule_of = {stack: _most_common([r for per in seen_store.values() for st, (_, _, r) in per.items() if st == stack])
               for stack in stacks}
    kinds: dict[tuple[str, str], dict[str, Kind]] = {}
    secret_of: dict[tuple[str, str], str] = {}
    for w in workers:
        for stack in w.scripts:
            for binding in w.bound(stack):
                pair = (w.key, binding)
                kinds.setdefault(pair, {})[stack] = STORE if binding in w.store.get(stack, {}) else LEGACY
        for pair in [p for p in kinds if p[0] == w.key]:
            # One secret per binding in every stack: the one the store names suggest (the binding's
            # own name first when the stacks disagree), the stacks whose rule misses it named by hand.
            suggested = [s for (_, s, _) in seen_store.get(pair, {}).values()]
            secret_of[pair] = pair[1] if pair[1] in suggested or not suggested else sorted(suggested)[0]
    store_names: dict[str, dict[str, str]] = defaultdict(dict)
    for pair, per in seen_store.items():
        secret = secret_of[pair]
        for stack, (secret_name, _, _) in per.items():
            if store_secret_name(rule_of[stack], secret) != secret_name:
                earlier = store_names[secret].setdefault(stack, secret_name)
                if earlier != secret_name:
                    notes.append(f"secret {yaml_scalar(secret)}: stack {stack} binds two store secrets for it "
                                 f"({earlier}, {secret_name}): give one binding a secret of its own")
    fitted = fit_backends(kinds, secret_of, stacks)
    by_key = {w.key: w for w in workers}
    for pair, kinds_of in kinds.items():
        # A Worker binds its secrets in every stack it is in: one bound in some of its envs only
        # would be added where it is not bound today.
        missing = [st for st in by_key[pair[0]].scripts if st not in kinds_of]
        if missing and pair not in fitted.unexpressible:
            fitted.unexpressible[pair] = (f"bound in stack(s) {', '.join(sorted(kinds_of))} only, not in "
                                          f"{', '.join(missing)}: the manifest binds a Worker's secrets in every "
                                          "stack it is in")
    kept = {p: s for p, s in secret_of.items() if p not in fitted.unexpressible}
    secrets = sorted(set(kept.values()))
    q = yaml_scalar
    lines = ["# yaml-language-server: $schema=schema/secrets_manifest.schema.json",
             f"# Drafted by `python -m stacks init --from-wrangler` from {len(configs)} wrangler config(s): names only,",
             "# never values. Fill in every TODO (validate reports each one), then set the values:",
             "#   python -m stacks values load --stack <stack> FILE",
             "#",
             "# It reproduces today: every binding keeps the type it has in its config (secret_text stays a",
             "# Worker secret, a store binding stays on the store, under its store secret's name), through",
             "# the `backend` settings below and the stack pins in the notes. Applying it as drafted moves no",
             "# credential. What would: `backend: store` at the top or on a Worker or secret, or removing a",
             "# `backend: legacy` hold; `python -m stacks diff --base <branch>` shows each binding it retypes,",
             "# `python -m stacks overview` every binding's backend per stack.",
             "version: 1",
             "backend: legacy",
             "secrets:" + ("" if secrets else " {}")]
    if not secrets:
        lines.insert(-2, "# No config declares a secret (secrets.required, secrets_store_secrets, a .dev.vars): add")
        lines.insert(-2, "# at least one under `secrets:` (validate needs one) and list it under its Worker.")
        notes.append("no config declares a secret: add one under `secrets:` in the draft (a manifest holds at least one) "
                     "and list it under the Worker that binds it")
    # Every name, script, env and path below comes from the configs: each is written as a YAML
    # scalar that reads back as exactly that text (a newline in one cannot start a key of its own).
    for name in secrets:
        provider = re.sub(r"[^a-z0-9]+", "", name.split("_")[0].lower()) or "the issuer"
        lines += [f"  {q(name)}:",
                  f"    description: {TODO}",
                  f"    owner: {TODO}                      # who rotates it",
                  f"    provider: {TODO}                   # e.g. {provider}",
                  f"    rotation_days: {TODO}              # e.g. 90"]
        if name in fitted.secrets:
            why = "on the store wherever it is bound" if fitted.secrets[name] == STORE else \
                "a Worker secret wherever it is bound, beside a Worker on the store"
            lines.append(f"{'    backend: ' + fitted.secrets[name]:<37}# {why}")
        if store_names.get(name):
            lines.append("    store_names: {" + ", ".join(f"{q(st)}: {q(n)}" for st, n in sorted(store_names[name].items()))
                         + "}   # as the configs name them")
        if not is_secret_name(name):
            notes.append(f"secret {q(name)} has characters Secrets Store refuses: rename it in the draft")
    lines.append("workers:")
    for w in workers:
        mapping = {b: s for (key, b), s in sorted(kept.items()) if key == w.key}
        stacks_of = [s for s in stacks if s in w.scripts]
        lines.append(f"  {q(w.key)}:")
        lines.append("    script_name:")
        lines += [f"      {q(s)}: {q(w.scripts[s])}" for s in stacks_of]
        lines.append(f"    stacks: [{', '.join(q(s) for s in stacks_of)}]")
        if w.key in fitted.workers:
            why = "every binding on the store today" if fitted.workers[w.key] == STORE else \
                "keeps its Worker secrets while other Workers read them from the store"
            lines.append(f"{'    backend: ' + fitted.workers[w.key]:<37}# {why}")
        plain = sorted(b for b, s in mapping.items() if b == s)
        renamed = sorted((b, s) for b, s in mapping.items() if b != s)
        lines.append("    secrets:" + (" []" if not plain else ""))
        lines += [f"      - {q(b)}" for b in plain]
        if renamed:
            lines.append("    bindings:")
            lines += [f"      {q(b)}: {q(s)}" for b, s in renamed]
        left = sorted((b, why) for (key, b), why in fitted.unexpressible.items() if key == w.key)
        for binding, why in left:
            # A comment holds the name as text: the escaping keeps it one line.
            lines.append(f"    # left out, unmanaged (never touched): {q(binding)}: {why}")
            notes.append(f"Worker '{w.key}': binding {q(binding)} left out of the draft ({why}): the manifest's backend "
                         "rule cannot give it the type it has today; unmanaged, the plane never touches it")
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
        if rule_of[stack] != "{name}":
            notes.append(f"stack {stack}: its store secret names look like {rule_of[stack]}: set `secrets-plane:secretName: "
                         f"'{rule_of[stack]}'` in Pulumi.{stack}.yaml")
    # Store names are checked over every secret a stack could put in the store (core/estate.py),
    # so two stacks on one account with the bare rule collide even while both are legacy.
    bare = [stack for stack in stacks if rule_of[stack] == "{name}"]
    keeper = next((stack for stack in bare if stack in PROD_NAMES), bare[-1] if bare else None)
    for stack in bare:
        # A stack whose configs bind store secrets already keeps their names (a new rule would move them);
        # said for a draft of no secret too: the first one added would collide.
        if stack != keeper and not store_ids.get(stack) and re.fullmatch(r"\w+", stack):
            notes.append(f"stack {stack}: if it shares an account with stack {keeper}, its store secret names must "
                         f"differ: set `secrets-plane:secretName: '{{name}}_{stack.upper()}'` in Pulumi.{stack}.yaml")
    for stack in fitted.held_stacks:
        notes.append(f"stack {stack}: every binding is a Worker secret there: hold it back with "
                     f"`secrets-plane:backend: legacy` in Pulumi.{stack}.yaml (the draft's store bindings are other "
                     "stacks')")
    notes.append(f"{len(secrets)} secret(s), {len(workers)} Worker(s) drafted; {len(secrets) * 4} TODO(s) to fill")
    return "\n".join(lines) + "\n", notes
