"""Keep each Worker's wrangler config in step with the desired state.

`wrangler deploy` keeps `secret_text` bindings but drops a `secrets_store_secret` binding its
config does not declare. So the Worker's wrangler config (for the wrangler env the stack deploys)
must carry exactly the Worker's desired store bindings under `secrets_store_secrets`, and its
Worker secrets under `secrets.required`, with which `wrangler deploy` refuses to deploy a Worker
that lacks one (wrangler's `secrets` key, cloudflare/workers-sdk pull request 12732: `wrangler deploy`
inherits each required secret and fails naming any the Worker lacks).
Entries for bindings the manifest does not manage are kept as they are; nothing else in the file
is touched: every other byte, comment and blank line stays (config_edit edits the lists' spans).
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from ..core.desired_state import DesiredState, WorkerState
from ..core.errors import PlaneError
from ..core.estate import MANIFEST_FILE, Estate
from ..core.json_source import load_json_text
from ..files import write_text
from .config_edit import KEY, REQUIRED, SECRETS, ListPlan, edit_json, edit_toml, plan_list
from .config_scan import ScanError, strip_jsonc

BOM = "\ufeff"


@dataclass(frozen=True)
class WranglerEntries:
    """What the plane manages in a Worker's wrangler config, for one stack."""

    store: list[dict[str, str]]  # secrets_store_secrets entries of the Worker's store bindings
    required: list[str]          # secrets.required: its secret_text bindings (legacy, fallback, external)
    managed: frozenset[str]      # every binding name the manifest gives this Worker (any stack): entries
                                 # for other names are not the plane's and are kept


@dataclass
class SyncResult:
    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        lines = difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
                                     fromfile=f"{self.path} (now)", tofile=f"{self.path} (desired)")
        # A last line without its newline is marked where it stands, as `diff -u` and git do.
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def desired_entries(desired: DesiredState, worker: WorkerState, store_id: str | None,
                    managed: frozenset[str]) -> WranglerEntries:
    store_bindings = [b for b in worker.bindings if b.kind == "secrets_store_secret"]
    if store_bindings and not store_id:
        raise PlaneError.at("Pulumi." + desired.stack + ".yaml", "config.secrets-plane:store",
                            "the store id is not known offline (the stack creates its store)",
                            "pass --store-id (pulumi stack output store_id)")
    return WranglerEntries(
        store=[{"binding": b.name, "store_id": store_id or "", "secret_name": b.store_secret_name or ""}
               for b in store_bindings],
        required=sorted(b.name for b in worker.bindings if b.kind == "secret_text"),
        managed=managed,
    )


def entries_for(estate: Estate, stack: str, worker_name: str, config: str | None, env: str | None,
                store_id: str | None) -> tuple[WranglerEntries, str, str | None]:
    """(entries, config path, wrangler env) for one Worker in one stack, from the manifest's
    `wrangler:` record unless given."""
    worker = estate.desired_worker(stack, worker_name)
    desired = estate.desired_state(stack)
    spec = estate.manifest.manifest.workers[worker_name]
    config = config or (spec.wrangler.config if spec.wrangler else None)
    if not config:
        raise PlaneError.at(MANIFEST_FILE, f"workers.{worker_name}.wrangler.config", "no wrangler config path",
                            "pass --config PATH or record `wrangler: {config: PATH}` for this Worker")
    if env is None and spec.wrangler:
        env = spec.wrangler.env.get(stack)
    if store_id is None and desired.store is not None and desired.store.mode == "adopt":
        store_id = desired.store.id
    managed = frozenset(b.name for s in spec.stacks if s in estate.stacks
                        for w in estate.desired_state(s).workers if w.worker == worker_name for b in w.bindings)
    return desired_entries(desired, worker, store_id, managed), config, env


def _plain_entry(entry: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(entry).items()} if isinstance(entry, dict) else {}


def _plan_of(entries: WranglerEntries) -> Callable[[str, list[Any]], ListPlan]:
    """Each list's plan: store entries known by their binding, required names by themselves."""
    def plan_of(which: str, current: list[Any]) -> ListPlan:
        if which == KEY:
            return plan_list(current, entries.store, lambda e: str(e.get("binding")), _plain_entry, entries.managed)
        return plan_list(current, entries.required, str, str, entries.managed)
    return plan_of


def _wanted(data: dict[str, Any], env: str | None, entries: WranglerEntries) -> dict[str, Any]:
    """The config's data as sync means it to read: the two lists changed, nothing else."""
    wanted = copy.deepcopy(data)
    section = wanted.setdefault("env", {}).setdefault(env, {}) if env else wanted
    plan_of = _plan_of(entries)
    current = section.get(KEY)
    store_plan = plan_of(KEY, (current if isinstance(current, list) else [current]) if current is not None else [])
    store = store_plan.final
    secrets = section.get(SECRETS)
    required = plan_of(REQUIRED, list(secrets.get(REQUIRED) or []) if isinstance(secrets, dict) else []).final
    # A list left empty goes with its key (and a secrets table it empties); one the file already
    # holds empty, or an empty secrets table, is the file's own and stays.
    if store_plan.changed:  # else as written (a lone [table] of someone else's binding included)
        if store:
            section[KEY] = store
        elif current:
            del section[KEY]
    if required:
        section.setdefault(SECRETS, {})[REQUIRED] = required
    elif isinstance(secrets, dict) and secrets.get(REQUIRED):
        del secrets[REQUIRED]
        if not secrets:
            del section[SECRETS]
    if env and not section and env not in (data.get("env") or {}):
        del wanted["env"][env]
        if not wanted["env"] and "env" not in data:
            del wanted["env"]
    return wanted


def unmanaged_required(path: Path, text: str, env: str | None, entries: WranglerEntries) -> list[str]:
    """The names in the env's `secrets.required` the manifest does not give this Worker: kept
    as they are, and said so."""
    data = _parse(path, text)
    _check_shape(path, data, env)
    section = (data.get("env") or {}).get(env) if env else data
    secrets = section.get(SECRETS) if isinstance(section, dict) else None
    required = secrets.get(REQUIRED) if isinstance(secrets, dict) else None
    return sorted(str(n) for n in required or [] if str(n) not in entries.managed)


def render(path: Path, text: str, env: str | None, entries: WranglerEntries) -> str:
    """The config text with the Worker's entries under (env.)secrets_store_secrets and
    (env.)secrets.required, other entries kept: only the spans of those lists change
    (config_edit), and the result must read back as exactly the data wanted."""
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json", ".jsonc"):
        raise PlaneError.at(str(path), "", "not a wrangler config", "use wrangler.toml, wrangler.json or wrangler.jsonc")
    data = _parse(path, text)
    _check_shape(path, data, env)
    wanted = _wanted(data, env, entries)
    if wanted == data:
        return text  # already right: leave the bytes alone
    where = f"env.{env}" if env else ""
    hint = ("write the env's secrets_store_secrets and secrets.required as wrangler's docs do (a table or an "
            "array under the env), or apply the entries by hand")
    try:
        # A file whose every line ends in CRLF is edited as LF and written back as CRLF, so the
        # lines sync adds end as the file's do (a file of mixed endings is edited as it is).
        # A byte-order mark is put back as it was.
        crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
        bom = BOM if text.startswith(BOM) else ""
        lf = (text.replace("\r\n", "\n") if crlf else text).removeprefix(bom)
        if suffix == ".toml":
            after = edit_toml(lf, env, _plan_of(entries), data)
        else:
            after = edit_json(lf, env, _plan_of(entries))
        after = bom + (after.replace("\n", "\r\n") if crlf else after)
        read = _parse(path, after)
    except (ScanError, PlaneError) as exc:
        why = str(exc) if isinstance(exc, ScanError) else "the edit would not parse"
        raise PlaneError.at(str(path), where, f"sync cannot edit this layout in place ({why})", hint) from None
    if read != wanted:
        raise PlaneError.at(str(path), where, "sync cannot edit this layout in place (the edit would not read back "
                            "as the entries wanted)", hint)
    return after


def _parse_toml(path: Path, text: str) -> tomlkit.TOMLDocument:
    """The TOML document, or an error at the line and column tomlkit stopped at. Its own message
    is not shown: it quotes the text it met, which may be a value under [vars]."""
    try:
        return tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises several parse error types
        line, col = getattr(exc, "line", None), getattr(exc, "col", None)
        # tomlkit counts columns from 0; editors and wrangler count from 1.
        where = f" at line {line}, column {col + 1}" if isinstance(line, int) and isinstance(col, int) else ""
        raise PlaneError.at(str(path), "", f"TOML parse error ({type(exc).__name__}){where}",
                            "fix the file's syntax there (wrangler cannot read it either)",
                            line=line if isinstance(line, int) else None) from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    text = text.removeprefix(BOM)  # wrangler reads a file that starts with one
    if path.suffix.lower() == ".toml":
        document = _parse_toml(path, text)
        try:
            return dict(document.unwrap())
        except tomlkit.exceptions.TOMLKitError:
            # Valid TOML 1.0 tomlkit's document cannot unwrap (a sub-table of an [[array]] entry
            # given after another table): the strict reader gives the data.
            try:
                return tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise PlaneError.at(str(path), "", f"TOML error ({type(exc).__name__})",
                                    "fix the file's syntax (wrangler cannot read it either)") from None
    data = load_json_text(strip_jsonc(text), str(path), "fix the file's syntax")
    return data if isinstance(data, dict) else {}


def _check_shape(path: Path, data: dict[str, Any], env: str | None) -> None:
    """What sync edits must have the shape wrangler reads: else a located error, before any edit."""
    where = f"env.{env}." if env else ""
    section: Any = data
    if env:
        envs = data.get("env", {})
        if not isinstance(envs, dict):
            raise PlaneError.at(str(path), "env", "env is not a table", "write env as a table of envs, as wrangler's docs do")
        if env not in envs:
            return
        section = envs[env]
        if not isinstance(section, dict):
            raise PlaneError.at(str(path), f"env.{env}", f"env.{env} is not a table", "write the env as a table")
    store = section.get(KEY, [])
    lone = isinstance(store, dict) and path.suffix.lower() == ".toml"  # a [table]: one binding
    if not (lone or isinstance(store, list) and all(isinstance(e, dict) for e in store)):
        raise PlaneError.at(str(path), where + KEY, f"{KEY} is not a list of tables",
                            "write each store binding as a table: binding, store_id, secret_name")
    if SECRETS not in section:
        return
    secrets = section[SECRETS]
    if not isinstance(secrets, dict):
        raise PlaneError.at(str(path), where + SECRETS, "secrets is not a table", "write secrets as a table: "
                            "secrets.required, a list of names")
    required = secrets.get(REQUIRED, [])
    if not (isinstance(required, list) and all(isinstance(n, str) for n in required)):
        raise PlaneError.at(str(path), f"{where}{SECRETS}.{REQUIRED}", "secrets.required is not a list of names",
                            "write it as a list of strings, each a secret's binding name")


def deployed_names(path: Path, text: str) -> dict[str | None, str | None]:
    """The script each wrangler env of the config deploys (None: the top level), by wrangler's
    rule: an env's own `name`, else `<top-level name>-<env>` (wrangler's appendEnvName)."""
    data = _parse(path, text)
    top = data.get("name") if isinstance(data.get("name"), str) else None
    names: dict[str | None, str | None] = {None: top}
    for env, section in (data.get("env") or {}).items():
        own = section.get("name") if isinstance(section, dict) else None
        names[env] = own if isinstance(own, str) else (f"{top}-{env}" if top else None)
    return names


def check_script_name(path: Path, text: str, env: str | None, script: str, stack: str, worker: str) -> None:
    """The wrangler env must deploy the script the stack binds: otherwise a sync would write one
    stack's bindings into the config of another script. Raises, naming both."""
    names = deployed_names(path, text)
    top = names[None]
    # An env the file does not have yet (sync adds it) deploys by the same rule.
    found = names[env] if env in names else (f"{top}-{env}" if top else None)
    if found == script:
        return
    where = f"[env.{env}]" if env else "its top level"
    match = [e for e, n in names.items() if n == script]
    hint = (f"pass --env {match[0]}" if match and match[0] else "pass no --env (the top level deploys it)" if match
            else f"point workers.{worker}.wrangler at the config that deploys '{script}'")
    raise PlaneError.at(str(path), f"env.{env}.name" if env else "name",
                        f"stack '{stack}' binds Worker '{worker}' as script '{script}', but {path.name} {where} deploys "
                        + (f"'{found}'" if found else "no named script"), hint + (f" (or record it: workers.{worker}.wrangler.env.{stack})" if match else ""))


def sync(path: Path, env: str | None, entries: WranglerEntries, write: bool) -> SyncResult:
    if not path.exists():
        raise PlaneError.at(str(path), "", "wrangler config not found",
                            "pass --config, or record it under workers.<name>.wrangler.config in the manifest")
    before = path.read_bytes().decode("utf-8")  # as it is: read_text would turn CRLF into LF
    after = render(path, before, env, entries)
    result = SyncResult(path, before, after)
    if write and result.changed:
        write_text(path, after)  # never through a link (files.py)
    return result
