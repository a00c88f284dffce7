"""`diff --base REF [--stack S]`: the manifest and stack files at a git ref against the working
tree, as a reviewer needs it (core/changes.py decides what changed). The base's files are read
with `git show REF:path` into a scratch folder, once, and loaded by the same code as the working
tree's: a committed, clean tree (a pull request's head in CI) diffs against the base, not itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..core.changes import StackChanges, StackInputs, compare, render_markdown, render_text
from ..core.errors import Location, PlaneError, Problem
from ..core.estate import MANIFEST_FILE, Estate, load_estate
from ..core.text import md_code

MARKER = "<!-- secrets-plane:diff -->"


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


def base_estate(project: Path, ref: str, manifest: str = MANIFEST_FILE) -> Estate | None:
    """The estate at `ref`, or None when the manifest did not exist there."""
    prefix = _git(project, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        raise PlaneError.at(str(project), "", "not a git repository", "run diff inside the project's git checkout")
    if _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise PlaneError.at("--base", ref, f"unknown git ref '{ref}'", "fetch it (git fetch origin main) or name a commit")
    listing = _git(project, "ls-tree", "--name-only", ref, prefix.stdout.strip() or ".")
    names = [Path(p).name for p in listing.stdout.splitlines()]
    if manifest not in names:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="secrets-plane-base-"))
    try:
        for name in names:
            if name == manifest or (name.startswith("Pulumi.") and name.endswith(".yaml")):
                shown = subprocess.run(["git", "show", f"{ref}:./{name}"], cwd=project, capture_output=True)
                (scratch / name).write_bytes(shown.stdout)
        try:
            return load_estate(scratch, manifest)
        except PlaneError as exc:
            # Say which side is broken: the base's files are named `REF:file`.
            raise PlaneError([Problem(Location(f"{ref}:{p.location.file}", p.location.path, p.location.line),
                                      p.message, p.hint, p.severity) for p in exc.problems]) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _inputs(estate: Estate | None, stack: str) -> StackInputs | None:
    if estate is None or stack not in estate.stacks:
        return None
    loaded = estate.stacks[stack]
    return StackInputs(estate.manifest.manifest, loaded.settings, estate.desired_state(stack), loaded.value_fingerprints,
                       loaded.previous_fingerprints)


def stack_changes(project: Path, head: Estate, stacks: list[str] | None, ref: str,
                  manifest: str = MANIFEST_FILE) -> list[StackChanges]:
    """Per stack (those named, else every stack on either side), what the change does."""
    base = base_estate(project, ref, manifest)
    names = stacks or sorted(set(head.stacks) | set(base.stacks if base else {}))
    return [compare(_inputs(base, stack), _inputs(head, stack), stack) for stack in names]


def render(changes: list[StackChanges], fmt: str, ref: str) -> str:
    if fmt == "json":
        return json.dumps({"base": ref, "stacks": [c.as_dict() for c in changes]}, indent=2)
    if fmt == "markdown":
        body = "\n\n".join(render_markdown(c) for c in changes)
        return f"{MARKER}\n### secrets-plane: what this change does to credentials (against {md_code(ref)})\n\n{body}\n"
    return "\n".join(render_text(c) for c in changes)
