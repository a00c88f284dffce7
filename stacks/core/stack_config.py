"""Stack settings: the `secrets-plane:` namespace of a stack's Pulumi config.

Two edges feed the same parser: the `Pulumi.<stack>.yaml` files on disk (offline commands; an
encrypted `secure:` value is known only to exist) and the Pulumi runtime's config (the program;
values are decrypted and wrapped as secrets at once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .backends import Backend
from .errors import Location, PlaneError, Problem, ProblemCollector, did_you_mean
from .manifest import pydantic_problems
from .naming import DEFAULT_SECRET_NAME_TEMPLATE, is_secret_name, is_stack_name, store_secret_name
from .yaml_source import YamlDocument, format_path, load_yaml_file

NAMESPACE = "secrets-plane"
ACCOUNT_ID_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)


class StoreSetting(BaseModel):
    """Adopt an existing store by id (never deleted) or create one by name (protected, retained)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    adopt: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$",
                              description="the id of the account's existing store: looked up, never deleted")
    create: str | None = Field(default=None, min_length=1, max_length=255,
                               description="a store made by the program under this name (protected, retained)")


class StackSettings(BaseModel):
    """Everything a stack's config says, except the values themselves (only their names)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    stack: str
    account_id: str = Field(alias="accountId", description="the Cloudflare account (32 hex characters)")
    backend: Backend | None = Field(default=None, description="a pin: `legacy` holds the whole stack back (or rolls "
                                                              "it back), `store` moves it early")
    store: StoreSetting | None = Field(default=None, description="`{adopt: <store id>}` or `{create: <name>}`; "
                                                                 "required when anything of the stack is on the store")
    secret_name: str = Field(default=DEFAULT_SECRET_NAME_TEMPLATE, alias="secretName",
                             description="the store secret naming rule; `{name}_STAGING` where stacks share an "
                                         "account")
    promote_from: str | None = Field(default=None, alias="promoteFrom",
                                     description="the stack this one is promoted from (org/project/stack): the gate")
    promotion_override: str | None = Field(default=None, alias="promotionOverride", min_length=1,
                                           description="emergency only: a reason that lets a gated apply through, "
                                                       "loudly")
    value_names: tuple[str, ...] = ()
    # Overlap windows open now: secret -> the day its previous value retires (YYYY-MM-DD). The
    # previous values themselves are read apart from the model, as `values` are.
    previous: dict[str, str] = Field(default_factory=dict)

    def effective_backend(self, manifest_backend: Backend) -> Backend:
        """What the flag says for this stack: its pin, else the manifest's `backend`."""
        return self.backend or manifest_backend

    def store_secret_name(self, secret: str) -> str:
        return store_secret_name(self.secret_name, secret)


KNOWN_KEYS = ("accountId", "backend", "store", "secretName", "promoteFrom", "promotionOverride", "values", "previous")
# `values` and `previous` are read apart from the model (each value is a Pulumi secret, never a model field).
VALUES_DESCRIPTION = "secret name -> value, always encrypted (`values load`, `rotate`, `pulumi config set --secret`)"
PREVIOUS_DESCRIPTION = ("secret name -> `{value: <encrypted>, retires: YYYY-MM-DD}`: the value before the last "
                        "rotation of a secret with `overlap_days`, bound as `<BINDING>_PREVIOUS` until `retire` "
                        "(set by `rotate`, removed by `retire`; without it, `_PREVIOUS` holds the current value)")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class Placeholder:
    """Stands for an encrypted value that offline commands cannot (and must not) decrypt."""

    TEXT = "[secret]"

    def __repr__(self) -> str:
        return self.TEXT


class SecretValues:
    """Secret values by manifest secret name, and the previous value of those in an overlap window.
    Never printed: repr and str show names only."""

    def __init__(self, values: Mapping[str, str | Placeholder],
                 previous: Mapping[str, str | Placeholder] | None = None):
        self._values = dict(values)
        self._previous = dict(previous or {})

    def names(self) -> list[str]:
        return sorted(self._values)

    def get(self, name: str) -> str | Placeholder:
        return self._values[name]

    def previous(self, name: str) -> str | Placeholder:
        """The value before the last rotation while its overlap window is open, else the current
        one: outside a window, `_PREVIOUS` equals the binding."""
        return self._previous.get(name, self._values[name])

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def sizes(self) -> dict[str, int]:
        """Byte sizes of the values at hand (placeholders have none)."""
        return {n: len(v.encode("utf-8")) for n, v in self._values.items() if isinstance(v, str)}

    def __repr__(self) -> str:
        return f"SecretValues(names={self.names()})"

    __str__ = __repr__


@dataclass(frozen=True)
class LoadedStack:
    settings: StackSettings
    values: SecretValues
    file: str
    doc: YamlDocument | None
    # secret -> a digest of its encrypted entry: tells a value set anew from one left alone
    # without decrypting anything (an entry is re-encrypted with a fresh nonce on every set).
    value_fingerprints: dict[str, str] = field(default_factory=dict)
    previous_fingerprints: dict[str, str] = field(default_factory=dict)  # the same, for `previous`

    def doc_previous_days(self) -> list[str]:
        """Secrets whose `previous` entry in the stack file holds a retire day and no value."""
        raw = self.doc.data.get("config", {}).get(f"{NAMESPACE}:previous") if self.doc and isinstance(
            self.doc.data, dict) and isinstance(self.doc.data.get("config"), dict) else None
        return [str(n) for n, e in raw.items() if isinstance(e, dict) and set(e) == {"retires"}] \
            if isinstance(raw, dict) else []

    def location(self, key: str = "", *rest: str | int) -> Location:
        path: tuple[str | int, ...] = ("config", f"{NAMESPACE}:{key}", *rest) if key else ("config",)
        line = self.doc.line_of(path) if self.doc else None
        return Location(self.file, format_path(path) if key else "config", line)


def set_value_command(stack: str, name: str) -> str:
    return f"pulumi config set --secret --path '{NAMESPACE}:values.{name}' --stack {stack}  # value on stdin"


def discover_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def load_stack_file(project_dir: Path, stack: str) -> LoadedStack:
    label = f"Pulumi.{stack}.yaml"
    path = project_dir / label
    if not path.exists():
        known = discover_stacks(project_dir)
        raise PlaneError.at(label, "", f"unknown stack '{stack}': there is no {label}",
                            did_you_mean(stack, known) or f"known stacks: {', '.join(known) or 'none'}")
    doc = load_yaml_file(path, label)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise PlaneError.at(label, "", "a stack file must be a YAML mapping", "start it with `config:`", line=1)
    config = data.get("config", {}) or {}
    if not isinstance(config, dict):
        raise PlaneError.at(label, "config", "`config` must be a mapping", "see docs/manifest.md#stack-settings", line=doc.line_of(("config",)))
    raw: dict[str, Any] = {}
    values: dict[str, str | Placeholder] = {}
    plaintext: list[str] = []
    fingerprints: dict[str, str] = {}
    previous: dict[str, str | Placeholder] = {}
    previous_fingerprints: dict[str, str] = {}
    for key, value in config.items():
        if not key.startswith(f"{NAMESPACE}:"):
            continue
        short = key[len(NAMESPACE) + 1:]
        if short == "values":
            values, plaintext = _offline_values(value, doc, key)
            fingerprints = {name: _fingerprint(entry) for name, entry in value.items() if isinstance(entry, dict)}
            continue
        if short == "previous" and isinstance(value, dict):
            # The retire days go to the model (`previous`); the encrypted values stay placeholders.
            raw[short] = value
            previous = {name: Placeholder() for name, entry in value.items()
                        if isinstance(entry, dict) and "value" in entry}
            previous_fingerprints = {name: _fingerprint(entry.get("value")) for name, entry in value.items()
                                     if isinstance(entry, dict) and "value" in entry}
            continue
        raw[short] = value
    return LoadedStack(parse_settings(stack, raw, values, doc, label, plaintext), SecretValues(values, previous), label,
                       doc, fingerprints, previous_fingerprints)


def _fingerprint(entry: Any) -> str:
    secure = entry.get("secure") if isinstance(entry, dict) else entry
    return hashlib.sha256(str(secure).encode()).hexdigest()[:16]


def _offline_values(value: Any, doc: YamlDocument, key: str) -> tuple[dict[str, str | Placeholder], list[str]]:
    where = ("config", key)
    if not isinstance(value, dict):
        raise PlaneError.at(doc.file, format_path(where), "values must be a mapping of secret name -> value",
                            f"set each with `{set_value_command('<stack>', 'NAME')}`", line=doc.line_of(where))
    out: dict[str, str | Placeholder] = {}
    plaintext: list[str] = []
    for name, entry in value.items():
        if isinstance(entry, dict) and set(entry) == {"secure"}:
            out[name] = Placeholder()
        else:
            # A plaintext credential committed to a stack file: name it, never echo it.
            out[name] = Placeholder()
            plaintext.append(name)
    return out, plaintext


def load_runtime_settings(stack: str, get_config: Any) -> tuple[StackSettings, SecretValues]:
    """Read settings from the Pulumi runtime (`pulumi.runtime.get_config`). Values stay plaintext
    here only until the realization wraps each one in `Output.secret`."""
    raw: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        text = get_config(f"{NAMESPACE}:{key}")
        if text is None:
            continue
        raw[key] = _decode_config(text)
    values_raw = raw.pop("values", {}) or {}
    label = f"Pulumi.{stack}.yaml"
    if not isinstance(values_raw, dict) or not all(isinstance(v, str) for v in values_raw.values()):
        raise PlaneError.at(label, f"config.{NAMESPACE}:values", "values must map each secret name to a string",
                            f"set each with `{set_value_command(stack, 'NAME')}`")
    settings = parse_settings(stack, raw, values_raw, None, label, [])
    previous_raw = raw.get("previous") or {}
    previous = {name: entry["value"] for name, entry in previous_raw.items()
                if isinstance(entry, dict) and isinstance(entry.get("value"), str)}
    return settings, SecretValues(values_raw, previous)


def _previous_entries(raw: Any, loc: Any, problems: ProblemCollector, offline: bool) -> dict[str, str]:
    """`previous`: secret -> {value, retires}; the retire days, each checked. Offline, a value
    must be encrypted (`secure:`); a plain one is named, never shown."""
    if raw is None:
        return {}
    where = f"{NAMESPACE}:previous"
    if not isinstance(raw, dict):
        problems.error(loc(where), "previous must be a mapping of secret name -> {value, retires}",
                       "let `rotate` write it; `retire NAME` removes an entry")
        return {}
    out: dict[str, str] = {}
    for name, entry in raw.items():
        remove = f"remove it: pulumi config rm --path '{where}.{name}' --stack <stack>"
        if isinstance(entry, dict) and set(entry) == {"retires"}:
            # `rotate` writes the day first and the value second: a run stopped between them kept
            # nothing yet, and its re-run writes both.
            continue  # the estate's checks warn of it
        if not isinstance(entry, dict) or set(entry) != {"value", "retires"}:
            problems.error(loc(where, name), f"previous entry of '{name}' must hold exactly `value` and `retires`",
                           f"let `rotate` write it, or {remove}")
            continue
        if offline and not (isinstance(entry["value"], dict) and set(entry["value"]) == {"secure"}):
            problems.error(loc(where, name, "value"), f"previous value of '{name}' is stored in plain text",
                           f"{remove}, then rotate again")
        day = entry["retires"]
        if not isinstance(day, str) or not DATE_RE.fullmatch(day) or not _is_date(day):
            problems.error(loc(where, name, "retires"), f"the retire day of '{name}' is not a date",
                           "write it as YYYY-MM-DD (quoted), e.g. retires: \"2026-12-21\"")
            continue
        out[str(name)] = day
    return out


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _decode_config(text: str) -> Any:
    # Object config arrives as JSON; plain strings arrive as-is.
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def parse_settings(stack: str, raw: Mapping[str, Any], values: Mapping[str, Any], doc: YamlDocument | None,
                   label: str, plaintext: list[str]) -> StackSettings:
    problems = ProblemCollector()

    def loc(*path: str | int) -> Location:
        full = ("config", *path)
        return Location(label, format_path(full), doc.line_of(full) if doc else None)

    if not is_stack_name(stack):
        problems.error(Location(label), f"stack name '{stack}' is not valid", "use letters, digits, '.', '_' or '-'")
    for key in raw:
        if key not in KNOWN_KEYS:
            hint = did_you_mean(key, KNOWN_KEYS) or f"known keys: {', '.join(KNOWN_KEYS)}"
            problems.error(loc(f"{NAMESPACE}:{key}"), f"unknown setting '{NAMESPACE}:{key}'", hint)
    if "accountId" not in raw:
        problems.error(loc(), "this stack names no Cloudflare account",
                       f"pulumi config set {NAMESPACE}:accountId <32-hex account id> --stack {stack}")
    elif isinstance(raw["accountId"], (int, float)) and not isinstance(raw["accountId"], bool):
        problems.error(loc(f"{NAMESPACE}:accountId"), "accountId was read as a number: YAML reads an unquoted "
                       "all-digit value as one (and drops its leading zeros)",
                       f"quote it: {NAMESPACE}:accountId: \"<the 32 characters from the dashboard>\"")
    elif not isinstance(raw["accountId"], str) or not ACCOUNT_ID_RE.fullmatch(raw["accountId"]):
        problems.error(loc(f"{NAMESPACE}:accountId"), "accountId is not a Cloudflare account id",
                       "use the 32 lowercase hex characters shown in the dashboard's account home")
    template = raw.get("secretName", DEFAULT_SECRET_NAME_TEMPLATE)
    if isinstance(template, str):
        if template.count("{name}") != 1 or not is_secret_name(template.replace("{name}", "X")):
            problems.error(loc(f"{NAMESPACE}:secretName"), f"secretName '{template}' is not a valid naming rule",
                           "use {name} once, with letters, digits, '_' or '-' around it, e.g. '{name}_STAGING'")
    store = raw.get("store")
    # (An unknown key in it is the model's to report, with "did you mean".)
    if isinstance(store, dict) and set(store) <= {"adopt", "create"} and \
            len([k for k in ("adopt", "create") if store.get(k)]) != 1:
        problems.error(loc(f"{NAMESPACE}:store"), "store must say exactly one of `adopt: <store id>` or `create: <name>`",
                       "adopt the account's existing store by id, or create one by name")
    for name in plaintext:
        problems.error(loc(f"{NAMESPACE}:values", name), f"value of '{name}' is stored in plain text",
                       f"re-set it encrypted: {set_value_command(stack, name)}")
    retires = _previous_entries(raw.get("previous"), loc, problems, offline=doc is not None)
    problems.raise_if_errors()
    data = {k: v for k, v in raw.items() if k in KNOWN_KEYS}
    data.update(stack=stack, value_names=tuple(sorted(values)), previous=retires)
    try:
        return StackSettings.model_validate(data)
    except ValidationError as exc:
        fake_doc = doc or YamlDocument(label, None)
        found = pydantic_problems(exc, fake_doc, ("config",), model=StackSettings)
        fixed: list[Problem] = []
        for p in found.errors:
            path = p.location.path.replace("config.", f"config.{NAMESPACE}:", 1)
            parts = tuple(path.split("."))
            line = doc.line_of(("config", parts[1])) if doc and len(parts) > 1 else None
            fixed.append(Problem(Location(label, path, line), p.message, p.hint))
        raise PlaneError(fixed) from None
