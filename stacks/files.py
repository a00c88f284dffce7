"""Every file the plane writes, and where it may write them.

- A path the manifest records is resolved (links included) and must stay inside the project: a
  Worker's `wrangler.config` that is absolute or climbs out with `..` would make `dev --all` and
  `types --all` write wherever it points.
- A file is written without following a link at its name (`O_NOFOLLOW`): a `.dev.vars` that is a
  link to a committed file would otherwise put the values there. An existing link is refused,
  never replaced, so the person sees it.
- A file is made under a temporary name in the same folder, created with its final mode (0600
  for values: never readable by others, not even between a write and a chmod), synced, then
  renamed over the target: a reader sees the old file or the new one, never half of one.
- A file the person names (`--output`) is never overwritten without `--force`.
"""

from __future__ import annotations

import os
import secrets as random_names
import stat
from pathlib import Path

from .core.errors import Location, PlaneError

PRIVATE = 0o600
PUBLIC = 0o644


def inside_project(project: Path, recorded: str, where: Location) -> Path:
    """The path `recorded` (relative to the project) names, resolved; a PlaneError at `where` when
    it ends up outside the project, by its text or through a link."""
    root = project.resolve()
    target = (root / recorded).resolve()
    if not target.is_relative_to(root):
        raise PlaneError.at(where.file, where.path, f"this path leads outside the project ({root}): to {target}",
                            "record a path inside the folder holding Pulumi.yaml (no absolute path, no '..' out of "
                            "it, no link that leaves it)", line=where.line)
    return target


def _refuse_link(path: Path, label: str) -> None:
    if path.is_symlink():
        raise PlaneError.at(str(path), "", f"{label} is a symbolic link (to {os.readlink(path)}): the plane never "
                            "writes through a link", "remove the link, then run the command again")


def read_text_no_follow(path: Path) -> str | None:
    """The file's text, or None when it does not exist; a link is refused."""
    _refuse_link(path, path.name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, encoding="utf-8") as handle:
        return handle.read()


def write_text(path: Path, text: str, mode: int = PUBLIC, overwrite: bool = True, force_flag: str = "") -> None:
    """Write `text` to `path` as described above. `overwrite=False`: an existing file (or a link,
    even a dangling one) is refused, naming `force_flag` when there is one."""
    _refuse_link(path, path.name)
    if not overwrite and os.path.lexists(path):
        raise PlaneError.at(str(path), "", "the file exists already", f"pass {force_flag} to replace it, or choose "
                            "another path" if force_flag else "choose another path, or move the file away")
    if path.exists() and not stat.S_ISREG(path.lstat().st_mode):
        raise PlaneError.at(str(path), "", "not a regular file", "choose another path")
    if not overwrite:
        # O_EXCL: fails if the name appeared meanwhile (a link included) instead of writing there.
        _write_new(path, text, mode)
        return
    temp = path.parent / f".{path.name}.{random_names.token_hex(6)}.tmp"
    try:
        _write_new(temp, text, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


def _write_new(path: Path, text: str, mode: int) -> None:
    # Created with its mode (the umask can only take bits off): never readable by others first.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:  # no newline translation, whatever the platform
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
