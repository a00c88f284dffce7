"""`dev --stack S --worker W`: a Worker's local development, exactly as the stack binds it.

Its Worker secrets (legacy bindings and fallback copies) go to `.dev.vars` beside its wrangler
config, which `wrangler dev` and `getPlatformProxy()` serve as strings; its store bindings are
seeded into wrangler's local Secrets Store (`.wrangler/state/v3`, what `wrangler secrets-store
secret create` writes without `--remote`), keyed by the store id and secret name the stack binds,
so the same code sees objects with `get()` there. As bindings move between backends during a
phased rollout, re-running it moves them locally too. Values come on standard input (dotenv lines
keyed by secret name, as `values load` takes them) or are obvious placeholders; they are never on
a command line or in the output. Both places are plaintext on disk: it says so, and checks that
git ignores them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream

from ..core.desired_state import STORE, TEXT
from ..core.errors import PlaneError
from ..core.estate import Estate

DEV_VARS = ".dev.vars"
STATE = Path(".wrangler") / "state" / "v3"
SEEDER = Path(__file__).resolve().parent / "seed_local_store.mjs"
IGNORE_LINES = (".dev.vars*", ".wrangler/")  # what `wrangler init` puts in a Worker's .gitignore


def placeholder(secret: str) -> str:
    return f"dev-placeholder-{secret}"


@dataclass
class LocalPlan:
    """What one Worker's local development gets (values included: never printed)."""

    worker: str
    script: str
    directory: Path
    env: str | None
    dev_vars: dict[str, str] = field(default_factory=dict)  # binding -> value
    store: list[tuple[str, str, str, str]] = field(default_factory=list)  # binding, store id, secret name, value
    placeholders: list[str] = field(default_factory=list)  # secrets given a placeholder
    managed: set[str] = field(default_factory=set)  # every name the manifest gives this Worker


def local_plan(estate: Estate, stack: str, worker_name: str, directory: Path, values: dict[str, str],
               use_placeholders: bool, store_id: str | None) -> LocalPlan:
    worker = estate.desired_worker(stack, worker_name)
    desired = estate.desired_state(stack)
    spec = estate.manifest.manifest.workers[worker_name]
    env = spec.wrangler.env.get(stack) if spec.wrangler else None
    plan = LocalPlan(worker_name, worker.script_name, directory, env)
    plan.managed = {b.name for s in spec.stacks if s in estate.stacks
                    for w in estate.desired_state(s).workers if w.worker == worker_name for b in w.bindings}
    if any(b.kind == STORE for b in worker.bindings):
        if store_id is None and desired.store is not None and desired.store.mode == "adopt":
            store_id = desired.store.id
        if not store_id:
            raise PlaneError.at(f"Pulumi.{stack}.yaml", "config.secrets-plane:store",
                                "the store id is not known offline (the stack creates its store)",
                                "pass --store-id (pulumi stack output store_id), the id `wrangler sync` wrote")
    missing = []
    for b in worker.bindings:
        external = estate.manifest.manifest.secrets[b.secret].external
        value = values.get(b.secret)
        if value is None:
            if use_placeholders or external:
                value = placeholder(b.secret)
                if b.secret not in plan.placeholders:
                    plan.placeholders.append(b.secret)
            else:
                missing.append(b.secret)
                continue
        if b.kind == TEXT:
            plan.dev_vars[b.name] = value
        else:
            plan.store.append((b.name, store_id or "", b.store_secret_name or "", value))
    if missing:
        names = sorted(set(missing))
        raise PlaneError.at("<stdin>", "", f"no value for {', '.join(names)}, which Worker '{worker_name}' binds in "
                            f"stack {stack}", "give them on standard input as NAME=value lines, or pass --placeholders")
    plan.placeholders.sort()
    return plan


def quote(name: str, value: str) -> str:
    """One `.dev.vars` line that wrangler's parser (npm dotenv) reads back as exactly `value`: it
    strips one pair of ' " or ` quotes, and turns \\n into a newline only inside double quotes."""
    if "\n" not in value and "\r" not in value:
        for q in ("'", '"', "`"):
            if q not in value:
                return f"{name}={q}{value}{q}"
    elif '"' not in value and "\\n" not in value and "\\r" not in value:
        return f'{name}="' + value.replace("\n", "\\n").replace("\r", "\\r") + '"'
    raise PlaneError.at(DEV_VARS, name, f"the value for '{name}' cannot be written so wrangler reads it back exactly "
                        "(it mixes quotes and line breaks)", "seed this one by hand, or use a placeholder")


def write_dev_vars(path: Path, values: dict[str, str], managed: set[str]) -> int:
    """Replace the managed names in `.dev.vars`, keep every other line; returns how many were kept."""
    kept: list[str] = []
    if path.exists():
        for entry in parse_stream(io.StringIO(path.read_text())):
            if entry.key in managed:
                continue
            kept.append(entry.original.string.rstrip("\n"))
    lines = [line for line in kept if line.strip()]
    lines += [quote(name, value) for name, value in sorted(values.items())]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return len([line for line in kept if line.strip() and not line.lstrip().startswith("#")])


def seed_store(directory: Path, entries: list[tuple[str, str, str, str]], node: str | None = None) -> None:
    """Put each store binding's value where wrangler's local Secrets Store reads it, through
    wrangler's own miniflare (seed_local_store.mjs); the values go on standard input."""
    node = node or shutil.which("node")
    if node is None:
        raise PlaneError.at("node", "", "seeding the local Secrets Store needs Node.js and wrangler in the Worker's "
                            "folder", "install Node.js, and `npm install --save-dev wrangler` there")
    payload = json.dumps({"secrets": [{"store_id": sid, "secret_name": name, "value": value}
                                      for _, sid, name, value in entries]})
    proc = subprocess.run([node, str(SEEDER), str(directory)], input=payload, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        said = [line for line in proc.stderr.splitlines() if "Error" in line][:1] or ["no message"]
        for _, _, _, value in entries:
            said = [s.replace(value, "[secret]") for s in said]
        raise PlaneError.at(str(directory), "", f"wrangler's local Secrets Store could not be seeded ({said[0]})",
                            "check that wrangler is installed in the Worker's folder (npm install --save-dev wrangler)")


def not_ignored(directory: Path) -> list[str]:
    """Which of the two plaintext places git would not ignore (all, outside a repository)."""
    targets = [DEV_VARS, ".wrangler/"]
    git = shutil.which("git")
    if git is not None:
        inside = subprocess.run([git, "-C", str(directory), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                                text=True)
        if inside.returncode == 0:
            return [t for t in targets if subprocess.run([git, "-C", str(directory), "check-ignore", "-q", "--no-index",
                                                          t.rstrip("/") + ("/x" if t.endswith("/") else "")],
                                                         capture_output=True).returncode != 0]
    ignore = directory / ".gitignore"
    lines = {line.strip().lstrip("/") for line in (ignore.read_text().splitlines() if ignore.exists() else [])}
    covered = {DEV_VARS: {".dev.vars", ".dev.vars*"}, ".wrangler/": {".wrangler", ".wrangler/", ".wrangler/*"}}
    return [t for t in targets if not covered[t] & lines]
