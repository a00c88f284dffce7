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

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..core.desired_state import STORE, TEXT
from ..core.errors import PlaneError
from ..core.estate import Estate
from ..core.text import scrub
from ..files import PRIVATE, read_text_no_follow, write_text
from . import dev_vars

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
    kept_values: list[str] = field(default_factory=list)   # bindings whose value in .dev.vars is kept as it is
    managed: set[str] = field(default_factory=set)  # every name the manifest gives this Worker


def local_plan(estate: Estate, stack: str, worker_name: str, directory: Path, values: dict[str, str],
               use_placeholders: bool, store_id: str | None, existing: dict[str, str] | None = None) -> LocalPlan:
    """`existing`: what `.dev.vars` holds now, by binding name. A value not given keeps the one
    there (a developer's real local value is never overwritten by a placeholder); placeholders
    fill only what neither gives."""
    existing = existing or {}
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
        if value is None and b.kind == TEXT and b.name in existing:
            value = existing[b.name]
            plan.kept_values.append(b.name)
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


def dev_vars_text(path: Path, values: dict[str, str], managed: set[str]) -> tuple[str, int]:
    """(the new `.dev.vars`, how many entries of the current one it keeps): the managed names
    replaced, every other line kept. Each line is in the grammar wrangler reads (dev_vars.py), and
    the whole file is read back that way; the current file is read without following a link."""
    current = read_text_no_follow(path) or ""
    kept, count = dev_vars.without(current, managed)
    try:
        text = dev_vars.render(kept, values)
    except dev_vars.Unwritable as exc:
        raise PlaneError.at(str(path), exc.name, f"the value for '{exc.name}' cannot be written so wrangler reads it "
                            f"back exactly: {exc}", "seed this one by hand, or use a placeholder") from None
    read_back = dev_vars.parse(text)
    wrong = sorted(n for n, v in values.items() if read_back.get(n) != v)
    if wrong:
        raise PlaneError.at(str(path), wrong[0], f"wrangler would not read back {', '.join(wrong)} exactly: a line "
                            "the plane does not manage (an unclosed quote?) runs into them",
                            "fix or remove that line of .dev.vars, then run dev again")
    return text, count


def write_dev_vars(path: Path, text: str) -> None:
    """Created 0600 (never readable by others, not even for a moment), never through a link, and
    replaced whole (files.py)."""
    write_text(path, text, mode=PRIVATE)


def check_store_folder(directory: Path) -> None:
    """The local store's folders are the Worker's own: none of them may be a link elsewhere."""
    for part in (directory / ".wrangler", directory / ".wrangler" / "state", directory / STATE):
        if part.is_symlink():
            raise PlaneError.at(str(part), "", "is a symbolic link: the local Secrets Store is never seeded through a "
                                "link", "remove the link, then run dev again")


def seed_store(directory: Path, entries: list[tuple[str, str, str, str]], node: str | None = None) -> None:
    """Put each store binding's value where wrangler's local Secrets Store reads it, through
    wrangler's own miniflare (seed_local_store.mjs); the values go on standard input."""
    check_store_folder(directory)
    node = node or shutil.which("node")
    if node is None:
        raise PlaneError.at("node", "", "seeding the local Secrets Store needs Node.js and wrangler in the Worker's "
                            "folder", "install Node.js, and `npm install --save-dev wrangler` there")
    payload = json.dumps({"secrets": [{"store_id": sid, "secret_name": name, "value": value}
                                      for _, sid, name, value in entries]})
    proc = subprocess.run([node, str(SEEDER), str(directory)], input=payload, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        said, fragment = scrub(([line for line in proc.stderr.splitlines() if "Error" in line][:1] or ["no message"])[0],
                               [value for _, _, _, value in entries])
        if fragment:
            said = "its message quoted part of a value and is not shown"
        raise PlaneError.at(str(directory), "", f"wrangler's local Secrets Store could not be seeded ({said})",
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
