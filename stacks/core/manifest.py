"""The manifest model (`secrets_manifest.yaml`) and its single-file rules.

Strict pydantic v2 models with unknown keys rejected; every rule reports file, key path, line
and a fix. Rules that need the stack files too (unknown stacks, per-account limits) live in
`estate.py`.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .backends import Backend
from .errors import Location, PlaneError, Problem, ProblemCollector, did_you_mean
from .naming import (
    BYOK_ALIAS_RULE,
    DEFAULT_BYOK_ALIAS,
    GATEWAY_ID_RULE,
    PROVIDER_SLUG_RULE,
    WORKER_KEY_RULE,
    byok_secret_name,
    fallback_binding_name,
    is_binding_name,
    is_byok_alias,
    is_gateway_id,
    is_provider_slug,
    is_script_name,
    is_secret_name,
    is_worker_key,
    non_ascii,
    previous_binding_name,
    script_name,
    twins,
)
from .yaml_source import KeyPath, YamlDocument, format_path, load_yaml_file

Scope = Literal["access", "ai_gateway", "containers", "dex", "websearch", "workers"]
ALL_SCOPES: tuple[str, ...] = ("access", "ai_gateway", "containers", "dex", "websearch", "workers")

class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        # Frozen models cache what they derive (cached_property, kept beside the fields): a copy
        # with changes derives it again.
        for key in [k for k in copy.__dict__ if k not in type(self).model_fields]:
            del copy.__dict__[key]
        return copy


class GenerateSpec(_Strict):
    """How `rotate --generate` makes a value: random bytes of a stated length, encoded as text."""

    bytes: int = Field(ge=16, le=1024, description="how many random bytes (16 to 1024)")
    encoding: Literal["base64url", "hex"] = Field(default="base64url", description="how the bytes are written as text")


class GatewayKeySpec(_Strict):
    """One AI Gateway that uses the secret as a BYOK provider key: a provider config on the gateway
    pointing at a store secret named `{gateway}_{provider}_{alias}` (scoped `ai_gateway`)."""

    gateway: str = Field(min_length=1, description="the gateway's id in the account")
    provider: str = Field(min_length=1, description="the provider slug AI Gateway routes to (openai, anthropic, ...)")
    alias: str = Field(default=DEFAULT_BYOK_ALIAS, min_length=1,
                       description="the key's alias; a request picks a non-default key with `cf-aig-byok-alias`")
    default: bool | None = Field(default=None, description="the provider's default key on this gateway (default: "
                                                           "true for the alias `default`, else false)")
    rate_limit: int | None = Field(default=None, gt=0, description="the config's `rate_limit` (none: no limit)")
    rate_limit_period: int | None = Field(default=None, gt=0,
                                          description="the config's `rate_limit_period`, with `rate_limit`")

    @property
    def is_default(self) -> bool:
        return self.default if self.default is not None else self.alias == DEFAULT_BYOK_ALIAS


class SecretSpec(_Strict):
    """One credential. Its key is its name: the store secret's name (through the stack's naming
    rule) and the binding name of every Worker that lists it under `secrets`."""

    description: str = Field(min_length=1, description="what the credential is for")
    owner: str = Field(min_length=1, description="who rotates it (a team or a person)")
    provider: str = Field(min_length=1, description="who issued it (hubspot, openai, aws, ...)")
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["workers"]), min_length=1,
                                description="the Cloudflare products that may read the store secret; order free")
    rotation_days: int = Field(gt=0, le=3650, description="how often it must be rotated; the audit flags it overdue")
    comment: str | None = Field(default=None, max_length=1024,
                                description="the store secret's comment (default: description | owner | provider)")
    # Phased adoption: an explicit backend for this secret (see backends.py for the rule).
    backend: Backend | None = Field(default=None, description="this secret's own backend (phased adoption)")
    fallback: bool = Field(default=False, description="its store bindings get a secret_text copy `<BINDING>_FALLBACK`")
    external: bool = Field(default=False, description="bound and checked, never written: its value is set outside "
                                                      "the plane")
    generate: GenerateSpec | None = Field(default=None, description="`rotate --generate` makes its value")
    overlap_days: int | None = Field(
        default=None, ge=1, le=90,
        description="rotation with overlap: every binding of it has a `<BINDING>_PREVIOUS` beside it, holding the "
                    "previous value for this many days after a rotation (a signing or encryption key)")
    gateways: dict[str, list[GatewayKeySpec]] = Field(
        default_factory=dict, description="stack -> the AI Gateways that use it as a BYOK provider key")
    store_names: dict[str, str] = Field(default_factory=dict,
                                        description="stack -> its store secret's name there, where the stack's "
                                                    "`secretName` rule does not give it (a name made by hand)")


class WranglerSpec(_Strict):
    """Where a Worker's wrangler config lives and which wrangler env each stack deploys."""

    config: str = Field(min_length=1, description="wrangler.toml or wrangler.json(c), relative to the project and "
                                                  "inside it")
    env: dict[str, str] = Field(default_factory=dict, description="stack -> the wrangler env it deploys (none: the "
                                                                    "top level)")


class WorkerSpec(_Strict):
    """One Worker. Its key is a name of your choosing, used in messages and on the command line."""

    description: str | None = Field(default=None, description="what the Worker is, for people reading the overview")
    script_name: str | dict[str, str] = Field(description="the script per stack ({prod: ascend-v5, ...}) or a "
                                                          "template using {stack}")
    stacks: list[str] = Field(min_length=1, description="the stacks it exists in (each has a `Pulumi.<stack>.yaml`)")
    secrets: list[str] = Field(default_factory=list, description="the secrets it binds, under their own names")
    bindings: dict[str, str] = Field(default_factory=dict,
                                     description="binding name -> secret, for code that reads a secret under another "
                                                 "name")
    health_url: dict[str, str] = Field(default_factory=dict,
                                       description="stack -> URL the canary probes (5 s timeout)")
    wrangler: WranglerSpec | None = Field(default=None, description="its wrangler config, for `wrangler sync`, "
                                                                    "`wrangler check`, `types --all` and `dev`")
    # Phased adoption: an explicit backend for every binding of this Worker (backends.py).
    backend: Backend | None = Field(default=None, description="every binding of this Worker (phased adoption)")
    fallback: bool = Field(default=False, description="every store binding of this Worker gets a secret_text copy `<BINDING>_FALLBACK`")

    def binding_map(self) -> Mapping[str, str]:
        """binding name -> secret name; plain `secrets` entries bind under their own name."""
        return self._binding_map

    @cached_property
    def _binding_map(self) -> dict[str, str]:
        mapping = {name: name for name in self.secrets}
        mapping.update(self.bindings)
        return mapping


# Keys added after the first release: left out of the digest while at their default, so a
# manifest that does not use them keeps the digest (and passes the promotion gate) it had.
_SECRET_OPTIONAL: dict[str, Any] = {"backend": None, "fallback": False, "external": False, "generate": None,
                                    "overlap_days": None, "gateways": {}, "store_names": {}}
_WORKER_OPTIONAL: dict[str, Any] = {"backend": None, "fallback": False}


class Manifest(_Strict):
    """secrets_manifest.yaml: every credential and the Workers that bind it."""

    version: Literal[1] = Field(description="the file format's version")
    backend: Backend = Field(description="the one flag: where bindings live unless something holds them")
    secrets: dict[str, SecretSpec] = Field(min_length=1, description="every credential, by name")
    workers: dict[str, WorkerSpec] = Field(default_factory=dict, description="every Worker that binds some, by key")

    def normalized(self) -> dict[str, Any]:
        """The manifest with order-insensitive lists sorted: the input of the digest."""
        data = self.model_dump(mode="json")
        for secret in data["secrets"].values():
            secret["scopes"] = sorted(secret["scopes"])
            _drop_defaults(secret, _SECRET_OPTIONAL)
        for worker in data["workers"].values():
            worker["secrets"] = sorted(worker["secrets"])
            worker["stacks"] = sorted(worker["stacks"])
            _drop_defaults(worker, _WORKER_OPTIONAL)
        return data

    def digest(self) -> str:
        return self._digest

    @cached_property
    def _digest(self) -> str:
        # The model is frozen: worked out once, though validate, each stack's state and the plan ask.
        canonical = json.dumps(self.normalized(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _drop_defaults(entry: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, default in defaults.items():
        if entry.get(key) == default:
            entry.pop(key, None)


class LoadedManifest:
    """A validated manifest with the document it came from (for line numbers) and its warnings.

    `broken` names the entries (`secrets.X`, `workers.Y`) a manifest with errors had to stand in
    for so the rules could still run over the rest: what the rules say about them is left out."""

    def __init__(self, manifest: Manifest, doc: YamlDocument, warnings: list[Any],
                 broken: frozenset[str] = frozenset()):
        self.manifest = manifest
        self.doc = doc
        self.warnings = warnings
        self.broken = broken

    def location(self, *path: str | int) -> Location:
        return Location(self.doc.file, format_path(tuple(path)), self.doc.line_of(tuple(path)))

    def about_broken(self, problem: Problem) -> bool:
        """Whether a problem is about an entry that stood in for a broken one (and so says nothing)."""
        path = problem.location.path
        return problem.location.file == self.doc.file and any(
            path == entry or path.startswith((entry + ".", entry + "[")) for entry in self.broken)


_PYDANTIC_HINTS = {
    "extra_forbidden": "remove this key; check its spelling against docs/manifest.md",
    "missing": "add this key",
    "literal_error": "use one of the allowed values",
    "string_type": "write a string (quote it if YAML reads it as a number or boolean)",
    "int_type": "write a whole number",
    "list_type": "write a YAML list",
    "dict_type": "write a YAML mapping",
    "too_short": "add at least one entry",
    "greater_than": "use a positive number",
}


def keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts in the mapping at `loc` (the path of an unknown key without the
    key itself): what a misspelt key is compared with."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for name, f in current.model_fields.items() if (f.alias or name) == part), None)
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and unions with one model in them (e.g. `str | dict[str, str]`) -> the branch a
    mapping would take."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        branches = [a for a in typing.get_args(annotation) if a is not type(None)]
        for branch in branches:
            if (isinstance(branch, type) and issubclass(branch, BaseModel)) or typing.get_origin(branch) in (dict, list):
                return branch
        return branches[0] if branches else annotation
    return annotation


def pydantic_problems(exc: ValidationError, doc: YamlDocument, prefix: KeyPath = (),
                      model: type[BaseModel] | None = None) -> ProblemCollector:
    """Turn pydantic's errors into located problems, with "did you mean" for a misspelt key of
    `model`. Input values are never echoed."""
    problems = ProblemCollector()
    for err in exc.errors(include_input=False, include_url=False):
        # Union branches add their type name to loc ("str", "dict[str,str]"): drop those parts.
        loc: list[str | int] = []
        for part in err["loc"]:
            if isinstance(part, str) and ("[" in part or part in ("str", "int", "list", "dict")):
                continue
            loc.append(part)
        path = prefix + tuple(loc)
        kind = err["type"]
        message = err["msg"]
        hint = _PYDANTIC_HINTS.get(kind, "see docs/manifest.md")
        if kind == "extra_forbidden" and loc:
            field = str(loc[-1])
            message = f"unknown key '{field}'"
            known = keys_at(model, tuple(loc[:-1])) if model is not None else []
            if known:
                hint = did_you_mean(field, known) or f"known keys here: {', '.join(sorted(known))}"
        if kind == "literal_error":
            hint = message.replace("Input should be", "use")
            message = "value not allowed"
        location = Location(doc.file, format_path(path), doc.line_of(path))
        if not any(p.location == location and p.message == message for p in problems.problems):
            problems.error(location, message, hint)
    return problems


_LOADED: dict[tuple[str, str, bytes], LoadedManifest] = {}


def load_manifest(path: Path, label: str | None = None) -> LoadedManifest:
    """Parsed once per process for the same file contents: the offline plan reads the manifest,
    then runs the program, which reads it again."""
    label = label or path.name
    try:
        key = (str(path.resolve()), label, hashlib.sha256(path.read_bytes()).digest())
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    loaded = parse_manifest(load_yaml_file(path, label))
    if key is not None:
        _LOADED.clear()  # one manifest at a time is all a command needs
        _LOADED[key] = loaded
    return loaded


def read_manifest_file(path: Path, label: str) -> tuple[LoadedManifest | None, list[Problem]]:
    """`load_manifest` that gives back every error with the stand-in manifest (see read_manifest)."""
    try:
        return load_manifest(path, label), []
    except PlaneError as exc:
        first = exc.problems
    try:
        doc = load_yaml_file(path, label)
    except PlaneError:
        return None, first
    return read_manifest(doc)


def parse_manifest(doc: YamlDocument) -> LoadedManifest:
    loaded, errors = read_manifest(doc)
    if errors or loaded is None:
        raise PlaneError(errors)
    return loaded


def read_manifest(doc: YamlDocument) -> tuple[LoadedManifest | None, list[Problem]]:
    """Every error of the manifest in one pass, and the manifest to check the stack files against.

    A schema error in one secret or Worker would hide every rule about the others: the rules run
    on a stand-in (a broken secret keeps its name with neutral fields, so what binds it still
    resolves; a broken Worker is left out), and `broken` says which entries stood in. The
    manifest comes back only when its rules pass (on the stand-in): the rules across the files
    need one."""
    if doc.data is None or doc.data == {}:
        return None, [Problem(Location(doc.file), "manifest is empty",
                              "declare `version: 1`, `backend`, `secrets` and `workers` (see docs/manifest.md)")]
    if not isinstance(doc.data, dict):
        return None, [Problem(Location(doc.file, "", 1), "the manifest must be a YAML mapping at the top level",
                              "start the file with `version: 1`")]
    todos = _todos(doc)
    errors = list(todos)
    todo_paths = {p.location.path for p in todos}
    try:
        manifest = Manifest.model_validate(doc.data)
        broken: frozenset[str] = frozenset()
    except ValidationError as exc:
        schema = pydantic_problems(exc, doc, model=Manifest).errors
        errors += [p for p in schema if p.location.path not in todo_paths]
        paths = [tuple(err["loc"]) for err in exc.errors(include_input=False, include_url=False)]
        paths += [("secrets", name) for name in _todo_names(doc)]
        stand_in = _stand_in(doc.data, paths)
        if stand_in is None:
            return None, errors
        manifest, broken = stand_in
    else:
        if todos:
            broken = frozenset(f"secrets.{name}" for name in _todo_names(doc))
    problems = check_manifest_rules(manifest, doc)
    loaded = LoadedManifest(manifest, doc, problems.warnings, broken)
    errors += [p for p in problems.errors if not loaded.about_broken(p)]
    # The rules across files build each stack's state, which needs a manifest its own rules pass.
    return (loaded if not problems.errors else None), errors


_STAND_IN_SECRET = {"description": "-", "owner": "-", "provider": "-", "rotation_days": 1}


def _stand_in(data: dict[str, Any], paths: list[tuple[Any, ...]]) -> tuple[Manifest, frozenset[str]] | None:
    """The manifest with each broken secret or Worker stood in for, or None when an error lies
    outside them (the version, the backend, the `secrets` mapping itself)."""
    secrets = data.get("secrets")
    workers = data.get("workers")
    bad_secrets: set[str] = set()
    bad_workers: set[str] = set()
    for path in paths:
        if len(path) >= 2 and path[0] == "secrets" and isinstance(secrets, dict) and path[1] in secrets:
            bad_secrets.add(str(path[1]))
        elif len(path) >= 2 and path[0] == "workers" and isinstance(workers, dict) and path[1] in workers:
            bad_workers.add(str(path[1]))
        else:
            return None
    copy = dict(data)
    if bad_secrets and isinstance(secrets, dict):
        copy["secrets"] = {k: (dict(_STAND_IN_SECRET) if k in bad_secrets else v) for k, v in secrets.items()}
    if bad_workers and isinstance(workers, dict):
        copy["workers"] = {k: v for k, v in workers.items() if k not in bad_workers}
    try:
        manifest = Manifest.model_validate(copy)
    except ValidationError:
        return None
    return manifest, frozenset({f"secrets.{k}" for k in bad_secrets} | {f"workers.{k}" for k in bad_workers})


TODO = "TODO"
_TODO_HINTS = {
    "description": "say what the credential is for",
    "owner": "name who rotates it (a team or a person)",
    "provider": "name the service that issued it (e.g. openai)",
    "rotation_days": "write how often it must be rotated, in days (e.g. 90)",
}


def _todos(doc: YamlDocument) -> list[Problem]:
    """What a draft (`init --from-wrangler`) left for a person to fill in."""
    secrets = doc.data.get("secrets") if isinstance(doc.data, dict) else None
    out = []
    for name, spec in (secrets.items() if isinstance(secrets, dict) else []):
        for key, hint in _TODO_HINTS.items():
            if isinstance(spec, dict) and spec.get(key) == TODO:
                out.append(Problem(_loc(doc, "secrets", name, key), f"{key} of '{name}' is still TODO (a draft)", hint))
    return out


def _todo_names(doc: YamlDocument) -> list[str]:
    secrets = doc.data.get("secrets") if isinstance(doc.data, dict) else None
    return sorted(name for name, spec in (secrets.items() if isinstance(secrets, dict) else [])
                  if isinstance(spec, dict) and any(spec.get(key) == TODO for key in _TODO_HINTS))


def _loc(doc: YamlDocument, *path: str | int) -> Location:
    return Location(doc.file, format_path(tuple(path)), doc.line_of(tuple(path)))


def check_manifest_rules(m: Manifest, doc: YamlDocument) -> ProblemCollector:
    out = ProblemCollector()
    secret_names = set(m.secrets)
    for name, spec in m.secrets.items():
        if not is_secret_name(name):
            odd = non_ascii(name)
            out.error(_loc(doc, "secrets", name), f"secret name '{name}' is not accepted by Secrets Store"
                      + (f" (it holds {odd}, which is not ASCII)" if odd else ""),
                      "use 1-255 letters, digits, '_' or '-' (no spaces)")
        if len(set(spec.scopes)) != len(spec.scopes):
            out.error(_loc(doc, "secrets", name, "scopes"), "a scope is listed twice", "list each scope once")
        if spec.external and spec.generate is not None:
            out.error(_loc(doc, "secrets", name, "generate"), f"secret '{name}' is external: the plane never sets its value",
                      "remove `generate`, or drop `external: true` to let the plane own the value")
        if spec.external and spec.overlap_days is not None:
            out.error(_loc(doc, "secrets", name, "overlap_days"),
                      f"secret '{name}' is external: the plane never sets its value, so it cannot keep the previous one",
                      "remove `overlap_days`, or drop `external: true` and set its value in the stack config")
        for stack, store_name in spec.store_names.items():
            if not is_secret_name(store_name):
                out.error(_loc(doc, "secrets", name, "store_names", stack), f"store name '{store_name}' of secret "
                          f"'{name}' (stack {stack}) is not accepted by Secrets Store",
                          "use 1-255 letters, digits, '_' or '-' (no spaces)")
        if spec.external and spec.fallback:
            out.error(_loc(doc, "secrets", name, "fallback"),
                      f"secret '{name}' is external: a fallback copy needs a value the plane owns",
                      "remove `fallback`, or drop `external: true` and set its value in the stack config")

    _check_gateway_keys(out, doc, m)
    for first, later in twins(m.secrets):
        out.error(_loc(doc, "secrets", later), f"secret name '{later}' is too like '{first}' to tell apart",
                  "rename one: names that differ only in case, '-' and '_', O and 0, or l, I and 1 are mistaken "
                  "for one another")
    for wname in m.workers:
        if not is_worker_key(wname):
            odd = non_ascii(wname)
            out.error(_loc(doc, "workers", wname), f"Worker key '{wname}' is not a valid key"
                      + (f" (it holds {odd}, which is not ASCII)" if odd else ""), f"use {WORKER_KEY_RULE}")
    for first, later in twins(m.workers):
        out.error(_loc(doc, "workers", later), f"Worker key '{later}' is too like '{first}' to tell apart",
                  "rename one: keys that differ only in case, '-' and '_', O and 0, or l, I and 1 are mistaken for "
                  "one another")

    bound: set[str] = set()
    for wname, worker in m.workers.items():
        seen: dict[str, str] = {}
        # (Locations are looked up only for what is wrong: there are tens of thousands of bindings.)
        for i, secret in enumerate(worker.secrets):
            if secret not in secret_names:
                out.error(_loc(doc, "workers", wname, "secrets", i), f"Worker '{wname}' binds unknown secret '{secret}'",
                          did_you_mean(secret, secret_names) or "declare it under `secrets:` or remove it")
            if secret in seen:
                out.error(_loc(doc, "workers", wname, "secrets", i),
                          f"binding name '{secret}' is used twice in Worker '{wname}'", "list it once")
            seen[secret] = "secrets"
        for binding, secret in worker.bindings.items():
            if secret not in secret_names:
                out.error(_loc(doc, "workers", wname, "bindings", binding),
                          f"binding '{binding}' of Worker '{wname}' names unknown secret '{secret}'",
                          did_you_mean(secret, secret_names) or "declare it under `secrets:` or fix the name")
            if binding in seen:
                out.error(_loc(doc, "workers", wname, "bindings", binding),
                          f"binding name '{binding}' is used twice in Worker '{wname}'",
                          "a rename must not reuse a name listed under `secrets`; pick another binding name")
            seen[binding] = "bindings"
        for binding in worker.binding_map():
            if not is_binding_name(binding):
                source = "bindings" if binding in worker.bindings else "secrets"
                path: tuple[str | int, ...] = ("workers", wname, source)
                path += (binding,) if source == "bindings" else (worker.secrets.index(binding),)
                out.error(_loc(doc, *path), f"binding name '{binding}' is not a JavaScript identifier",
                          "use letters, digits, '_' or '$', not starting with a digit; add a rename under `bindings:`")
        for first, later in twins(worker.binding_map()):
            if first not in worker.bindings and later not in worker.bindings:
                continue  # two secrets' own names: reported once, under `secrets:`
            path = ("workers", wname, *_binding_path(worker, later))
            out.error(_loc(doc, *path), f"binding name '{later}' of Worker '{wname}' is too like '{first}' to tell "
                      "apart", "rename one under `bindings:`")
        if worker.wrangler is not None and leaves_project(worker.wrangler.config):
            out.error(_loc(doc, "workers", wname, "wrangler", "config"),
                      f"the wrangler config of Worker '{wname}' is outside the project (an absolute path, or one that "
                      "climbs out with '..')", "write a path relative to the folder holding Pulumi.yaml, inside it: "
                                               "dev, types and wrangler sync write beside the config")
        _check_fallback_names(out, doc, m, wname, worker)
        bound.update(worker.binding_map().values())
        _check_script_names(out, doc, wname, worker)
        if len(set(worker.stacks)) != len(worker.stacks):
            out.error(_loc(doc, "workers", wname, "stacks"), "a stack is listed twice", "list each stack once")

    for name, spec in m.secrets.items():
        if name not in bound and set(spec.scopes) <= {"workers"} and not spec.gateways:
            out.warning(_loc(doc, "secrets", name), f"secret '{name}' is bound by no Worker and has no other scope",
                        "bind it from a Worker, add a scope such as ai_gateway, or remove it")
    return out


def _check_gateway_keys(out: ProblemCollector, doc: YamlDocument, m: Manifest) -> None:
    """BYOK keys: each part of the name the gateway looks the key up by, one config per (stack,
    gateway, provider, alias) and one default per (stack, gateway, provider), across all secrets."""
    configs: dict[tuple[str, str, str, str], str] = {}
    defaults: dict[tuple[str, str, str], str] = {}
    for name, spec in m.secrets.items():
        if spec.gateways and spec.external:
            out.error(_loc(doc, "secrets", name, "gateways"),
                      f"secret '{name}' is external: a BYOK key needs a value the plane owns",
                      "remove `gateways`, or drop `external: true` and set its value in the stack config")
        for stack, keys in spec.gateways.items():
            for i, key in enumerate(keys):
                where = ("secrets", name, "gateways", stack, i)
                if not is_gateway_id(key.gateway):
                    out.error(_loc(doc, *where, "gateway"), f"gateway id of '{name}' ({stack}) is not a gateway id",
                              f"use {GATEWAY_ID_RULE}")
                if not is_provider_slug(key.provider):
                    out.error(_loc(doc, *where, "provider"),
                              f"provider of '{name}' on gateway '{key.gateway}' ({stack}) is not a provider slug",
                              f"use {PROVIDER_SLUG_RULE}")
                if not is_byok_alias(key.alias):
                    out.error(_loc(doc, *where, "alias"),
                              f"alias of '{name}' on gateway '{key.gateway}' ({stack}) is not a valid alias",
                              f"use {BYOK_ALIAS_RULE}")
                if (key.rate_limit is None) != (key.rate_limit_period is None):
                    out.error(_loc(doc, *where), f"the rate limit of '{name}' on gateway '{key.gateway}' ({stack}) "
                              "needs both `rate_limit` and `rate_limit_period`", "give both, or neither")
                if len(byok_secret_name(key.gateway, key.provider, key.alias)) > 255:
                    out.error(_loc(doc, *where), f"the BYOK store secret name of '{name}' on gateway "
                              f"'{key.gateway}' ({stack}) is longer than 255 characters",
                              "shorten the gateway id or the alias")
                config = (stack, key.gateway, key.provider, key.alias)
                if config in configs:
                    out.error(_loc(doc, *where), f"gateway '{key.gateway}' ({stack}) gets two '{key.provider}' keys "
                              f"with alias '{key.alias}' ('{configs[config]}' and '{name}')",
                              "give one of them another `alias`: a gateway holds one config per provider and alias")
                configs.setdefault(config, name)
                if key.is_default:
                    provider = (stack, key.gateway, key.provider)
                    if provider in defaults and defaults[provider] != f"{name}/{key.alias}":
                        out.error(_loc(doc, *where, "default"),
                                  f"gateway '{key.gateway}' ({stack}) gets two default '{key.provider}' keys "
                                  f"('{defaults[provider]}' and '{name}/{key.alias}')",
                                  "set `default: false` on all but one (an alias other than `default` is not "
                                  "the default unless it says so)")
                    defaults.setdefault(provider, f"{name}/{key.alias}")


def leaves_project(path: str) -> bool:
    """Whether a path the manifest records can point outside the project by its text alone: absolute
    (POSIX or Windows), or climbing above its start with '..', or holding a control character.
    (Links on disk are resolved where the path is used.)"""
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or any(ord(ch) < 0x20 for ch in text):
        return True
    depth = 0
    for part in text.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _binding_path(worker: WorkerSpec, binding: str) -> tuple[str | int, ...]:
    if binding in worker.bindings:
        return ("bindings", binding)
    return ("secrets", worker.secrets.index(binding))


def _check_fallback_names(out: ProblemCollector, doc: YamlDocument, m: Manifest, wname: str, worker: WorkerSpec) -> None:
    """A fallback copy `<binding>_FALLBACK` and a previous value `<binding>_PREVIOUS` (and its copy)
    must not take the name of another binding of the Worker. (Binding names are JavaScript
    identifiers, so these names are too.)"""
    mapping = worker.binding_map()
    for binding, secret in mapping.items():
        spec = m.secrets.get(secret)
        if spec is None or spec.external:
            continue
        derived: list[tuple[str, str, str]] = []  # (name, what it is, the key that asks for it)
        previous = previous_binding_name(binding)
        if spec.overlap_days is not None:
            derived.append((previous, "previous value", "overlap_days"))
        if spec.fallback or worker.fallback:
            derived.append((fallback_binding_name(binding), "fallback copy", "fallback"))
            if spec.overlap_days is not None:
                derived.append((fallback_binding_name(previous), "previous value's fallback copy", "fallback"))
        for name, what, key in derived:
            if name in mapping:
                out.error(_loc(doc, "workers", wname, *_binding_path(worker, binding)),
                          f"the {what} of binding '{binding}' would be named '{name}', which Worker '{wname}' "
                          "already binds", f"rename one of them under `bindings:`, or drop `{key}` for '{secret}'")


def _check_script_names(out: ProblemCollector, doc: YamlDocument, wname: str, worker: WorkerSpec) -> None:
    if isinstance(worker.script_name, str):
        template = worker.script_name
        leftover = template.replace("{stack}", "")
        if "{" in leftover or "}" in leftover:
            out.error(_loc(doc, "workers", wname, "script_name"), "script_name template may only use {stack}",
                      "write e.g. 'ascend-scheduler-{stack}' or give a name per stack")
            return
        for stack in worker.stacks:
            script = script_name(worker, stack)
            if not is_script_name(script):
                out.error(_loc(doc, "workers", wname, "script_name"),
                          f"script name '{script}' (stack {stack}) is not a valid Worker name",
                          "use lowercase letters, digits, '-' or '_', at most 63 characters")
        return
    for stack in worker.stacks:
        if stack not in worker.script_name:
            out.error(_loc(doc, "workers", wname, "script_name"), f"no script name for stack '{stack}'",
                      f"add `{stack}: <script>` under script_name, or remove '{stack}' from stacks")
    for stack, script in worker.script_name.items():
        where = _loc(doc, "workers", wname, "script_name", stack)
        if stack not in worker.stacks:
            out.error(where, f"script name given for stack '{stack}' where the Worker does not exist",
                      f"add '{stack}' to `stacks` or remove this entry")
        if not is_script_name(script):
            out.error(where, f"script name '{script}' is not a valid Worker name",
                      "use lowercase letters, digits, '-' or '_', at most 63 characters")
