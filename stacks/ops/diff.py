"""`diff --stack S --base REF`: the manifest and stack files at a git ref against the working tree,
as a reviewer needs it (core/changes.py). The base files are read with `git show`, into a scratch
folder, and loaded by the same code as the working tree's."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from ..core.changes import StackChanges, compare, render_markdown, render_text
from ..core.errors import Location, PlaneError, Problem
from ..core.estate import MANIFEST_FILE, Estate, load_estate

MARKER = "<!-- secrets-plane:diff -->"


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


def base_estate(project: Path, ref: str) -> Estate | None:
    """The estate at `ref`, or None when the manifest did not exist there."""
    prefix = _git(project, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        raise PlaneError.at(str(project), "", "not a git repository", "run diff inside the project's git checkout")
    if _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise PlaneError.at("--base", ref, f"unknown git ref '{ref}'", "fetch it (git fetch origin main) or name a commit")
    listing = _git(project, "ls-tree", "--name-only", ref, prefix.stdout.strip() or ".")
    names = [Path(p).name for p in listing.stdout.splitlines()]
    if MANIFEST_FILE not in names:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="secrets-plane-base-"))
    for name in names:
        if name == MANIFEST_FILE or (name.startswith("Pulumi.") and name.endswith(".yaml")):
            shown = subprocess.run(["git", "show", f"{ref}:./{name}"], cwd=project, capture_output=True)
            (scratch / name).write_bytes(shown.stdout)
    try:
        return load_estate(scratch)
    except PlaneError as exc:
        # Say which side is broken: the base's files are named `REF:file`.
        raise PlaneError([Problem(Location(f"{ref}:{p.location.file}", p.location.path, p.location.line),
                                  p.message, p.hint, p.severity) for p in exc.problems]) from None


def stack_changes(project: Path, head: Estate, stack: str, ref: str) -> StackChanges:
    base = base_estate(project, ref)
    base_state = base.desired_state(stack) if base is not None and stack in base.stacks else None
    return compare(base_state, head.desired_state(stack))


def render(changes: list[StackChanges], fmt: str, ref: str) -> str:
    if fmt == "json":
        return json.dumps({"base": ref, "stacks": [c.as_dict() for c in changes]}, indent=2)
    if fmt == "markdown":
        body = "\n\n".join(render_markdown(c) for c in changes)
        return f"{MARKER}\n### secrets-plane: what this change does to credentials (against `{ref}`)\n\n{body}\n"
    return "\n".join(render_text(c) for c in changes)
