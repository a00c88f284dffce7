"""Fields neither the SDK's request types nor its response models document, found by walking a
value against them: what the strict conformance test (test_fake_conformance.py) holds every
request and response of the project to.

Request types are the SDK's TypedDicts (keys on the wire are their `PropertyInfo` aliases);
response models are its pydantic models, which accept unknown fields and keep them aside
(`__pydantic_extra__`): every such field, at any depth, is reported with its path."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from typing_extensions import is_typeddict

# ---- responses ------------------------------------------------------------------------------------


def extra_fields(value: Any, path: str = "") -> list[str]:
    """Every field a parsed model holds that its class does not declare, by path."""
    if isinstance(value, BaseModel):
        out = [f"{path}.{key}" for key in (value.__pydantic_extra__ or {})]
        for name, field in type(value).model_fields.items():
            out += extra_fields(getattr(value, name), f"{path}.{field.alias or name}")
        return out
    if isinstance(value, (list, tuple)):
        return [p for i, item in enumerate(value) for p in extra_fields(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in extra_fields(item, f"{path}.{key}")]
    return []


def undocumented_in_response(result: Any, model: Any) -> list[str]:
    """Parse `result` with `model` (a model, a list of models, a union alias) and list what it
    does not document. A value that does not parse at all is reported as such."""
    try:
        parsed = TypeAdapter(model).validate_python(result)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is a finding
        return [f"(does not parse: {type(exc).__name__}: {str(exc).splitlines()[0]})"]
    return extra_fields(parsed)


# ---- requests -------------------------------------------------------------------------------------

def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (Required, NotRequired, typing.Annotated) or get_origin(tp) is getattr(
            typing, "Annotated", None):
        tp = get_args(tp)[0]
    return tp


def _wire_names(td: Any) -> dict[str, Any]:
    """A TypedDict's keys as sent (the alias of a PropertyInfo), each with its type."""
    hints = typing.get_type_hints(td, include_extras=True)
    out = {}
    for name, hint in hints.items():
        alias = name
        probe = hint
        while get_origin(probe) in (Required, NotRequired) or hasattr(probe, "__metadata__"):
            for meta in getattr(probe, "__metadata__", ()):
                if getattr(meta, "alias", None):
                    alias = meta.alias
            probe = get_args(probe)[0]
        out[alias] = probe
    return out


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _literal_ok(value: Any, tp: Any) -> bool:
    return get_origin(tp) is not Literal or value in get_args(tp)


def _fits(value: Any, tp: Any) -> bool:
    """Could `value` be this member of a union (its `type` literal, if any, matches)?"""
    tp = _unwrap(tp)
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return False
        kind = _wire_names(tp).get("type")
        return kind is None or "type" not in value or _literal_ok(value["type"], _unwrap(kind))
    if tp in (str, int, float, bool):
        return isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    if tp is type(None):
        return value is None
    if get_origin(tp) is Literal:
        return value in get_args(tp)
    origin = get_origin(tp)
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence) or (
            origin is not None and getattr(origin, "__name__", "") == "SequenceNotStr"):
        return isinstance(value, list)
    if origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    return True


def undocumented_in_request(value: Any, tp: Any, path: str = "") -> list[str]:
    """What `value` (a JSON request body, or part of one) holds that the TypedDict `tp` does not
    document: unknown keys, and values outside a Literal."""
    tp = _unwrap(tp)
    if tp in (Any, object):
        return []
    if _is_union(tp):
        members = [m for m in get_args(tp) if _fits(value, m)]
        if not members:
            return [f"{path} (no documented shape)"]
        return min((undocumented_in_request(value, m, path) for m in members), key=len)
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path} (not an object)"]
        wire = _wire_names(tp)
        out = []
        for key, item in value.items():
            if key not in wire:
                out.append(f"{path}.{key}")
            else:
                out += undocumented_in_request(item, wire[key], f"{path}.{key}")
        return out
    if get_origin(tp) is Literal:
        return [] if value in get_args(tp) else [f"{path}={value!r} (not one of {list(get_args(tp))})"]
    args = get_args(tp)
    if isinstance(value, list) and args:
        return [p for i, item in enumerate(value) for p in undocumented_in_request(item, args[0], f"{path}[{i}]")]
    if isinstance(value, dict) and len(args) == 2:
        return [p for key, item in value.items() for p in undocumented_in_request(item, args[1], f"{path}.{key}")]
    return []


def documented_keys(td: Any, without: tuple[str, ...] = ()) -> set[str]:
    """The keys a TypedDict (or any member of a union of them) documents, less `without`."""
    if _is_union(td):
        return set().union(*(documented_keys(member, without) for member in get_args(td)))
    return set(_wire_names(td)) - set(without)
