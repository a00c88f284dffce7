"""Keep each Worker's wrangler config in step with the desired state.

`wrangler deploy` keeps `secret_text` bindings but drops a `secrets_store_secret` binding its
config does not declare. So in store mode every Worker's wrangler config must carry exactly the
desired `secrets_store_secrets` entries (for the wrangler env the stack deploys), and in legacy
mode none. Only that key is touched: comments and formatting stay (tomlkit for TOML).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from ..core.desired_state import DesiredState, WorkerState
from ..core.errors import PlaneError

KEY = "secrets_store_secrets"


@dataclass
class SyncResult:
    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
                                            fromfile=f"{self.path} (now)", tofile=f"{self.path} (desired)"))


def desired_entries(desired: DesiredState, worker: WorkerState, store_id: str | None) -> list[dict[str, str]]:
    if desired.backend != "store":
        return []
    if not store_id:
        raise PlaneError.at("Pulumi." + desired.stack + ".yaml", "config.secrets-plane:store",
                            "the store id is not known offline (the stack creates its store)",
                            "pass --store-id (pulumi stack output store_id)")
    return [{"binding": b.name, "store_id": store_id, "secret_name": b.store_secret_name or ""}
            for b in worker.bindings]


def render(path: Path, text: str, env: str | None, entries: list[dict[str, str]]) -> str:
    """The config text with exactly `entries` under (env.)secrets_store_secrets."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return _render_toml(path, text, env, entries)
    if suffix in (".json", ".jsonc"):
        return _render_json(path, text, env, entries)
    raise PlaneError.at(str(path), "", "not a wrangler config", "use wrangler.toml, wrangler.json or wrangler.jsonc")


def _render_toml(path: Path, text: str, env: str | None, entries: list[dict[str, str]]) -> str:
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises several parse error types
        raise PlaneError.at(str(path), "", f"TOML parse error: {type(exc).__name__}", "fix the file's syntax") from None
    container: Any = doc
    if env:
        envs = doc.get("env")
        if envs is None:
            envs = tomlkit.table(is_super_table=True)
            doc["env"] = envs
        if env not in envs:
            envs[env] = tomlkit.table()
        container = envs[env]
    current = container.get(KEY)
    if _plain(current) == entries:
        return text  # already right: leave the bytes alone
    if not entries:
        if current is not None:
            del container[KEY]
        return tomlkit.dumps(doc)
    aot = AoT([])
    for entry in entries:
        table = tomlkit.table()
        table.update(entry)
        aot.append(table)
    if current is not None:
        container[KEY] = aot
    else:
        container.append(KEY, aot)
    return tomlkit.dumps(doc)


def _plain(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, (AoT, list)):
        return [{k: str(v) for k, v in dict(item).items()} for item in value]
    if isinstance(value, Table):
        return [{k: str(v) for k, v in dict(value).items()}]
    return []


def strip_jsonc(text: str) -> str:
    """JSONC -> JSON: drop // and /* */ comments and trailing commas, leaving strings intact."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
        elif ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _render_json(path: Path, text: str, env: str | None, entries: list[dict[str, str]]) -> str:
    try:
        data = json.loads(strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise PlaneError.at(str(path), "", f"JSON parse error: {exc.msg}", "fix the file's syntax", line=exc.lineno) from None
    container = data
    if env:
        container = data.setdefault("env", {}).setdefault(env, {})
    if [dict(e) for e in container.get(KEY) or []] == entries:
        return text
    if entries:
        container[KEY] = entries
    else:
        container.pop(KEY, None)
    indent = "\t" if "\n\t" in text else 2
    return json.dumps(data, indent=indent) + "\n"


def sync(path: Path, env: str | None, entries: list[dict[str, str]], write: bool) -> SyncResult:
    if not path.exists():
        raise PlaneError.at(str(path), "", "wrangler config not found",
                            "pass --config, or record it under workers.<name>.wrangler.config in the manifest")
    before = path.read_text()
    after = render(path, before, env, entries)
    result = SyncResult(path, before, after)
    if write and result.changed:
        if path.suffix.lower() == ".jsonc":
            raise PlaneError.at(str(path), "", "sync would drop the comments of a .jsonc file",
                                "apply the diff from `wrangler check` by hand, or use wrangler.toml")
        path.write_text(after)
    return result
