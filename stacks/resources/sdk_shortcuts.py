"""Shortcuts through the Pulumi SDK for offline runs (`plan`, the tests, the benchmark).

At hundreds of Workers most of an offline run is SDK bookkeeping that changes nothing it
records. Each shortcut here gives the same result as the SDK step it replaces, for the values
an offline run passes; anything else goes to the SDK as it is. `pulumi preview`/`up` run the SDK
untouched. tests/test_program.py checks that a run records the same resources, inputs, secrets
and options with and without them, and tests/test_sdk_shortcuts.py checks each against the SDK.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi import _types as sdk_types
from pulumi.dynamic import dynamic as sdk_dynamic
from pulumi.runtime import _depends_on as sdk_depends_on
from pulumi.runtime import known_types as sdk_known_types
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2

from .outputs import is_plain, known_output

# Values that are never an Unknown and hold nothing (the SDK's Unknown is a class of its own).
_LEAVES = frozenset({str, int, float, bool, type(None), bytes})
# What the engine sends for a value not known yet, and the key that marks a secret, an asset, a
# resource reference or an output value (pulumi/runtime/rpc.py).
_UNKNOWN = rpc.UNKNOWN
_SIGNATURE = rpc._special_sig_key


@contextlib.contextmanager
def sdk_shortcuts() -> Iterator[None]:
    """Within: the stack trace taken at each registration (engine diagnostics; the mock monitor
    drops it) is not taken; `Output.from_input` makes an Output of plain data at once instead of
    leaf by leaf (`known_output`); plain data (lists, dicts and scalars with no Output inside)
    serializes to itself at once when nothing translates its keys, instead of one awaited leaf at
    a time; the types of a resource class are read from its annotations once, not for every
    resource; a stateless dynamic provider is pickled once per class (every instance pickles the
    same); a plain list of resources in `depends_on` resolves to those resources without an Output
    around each; and the walk that looks for unknowns in every new Output's value (a Worker's
    binding list is hundreds of leaves) runs without a generator per container."""
    take_trace = sdk_resource._get_stack_trace
    resolve_deps = sdk_depends_on._resolve_depends_on
    walk_unknowns = rpc.contains_unknowns
    lift = pulumi.Output.from_input
    serialize = rpc.serialize_property
    types_of = sdk_types.resource_types
    known_types: dict[type, dict[str, type]] = {}
    pickle_provider = sdk_dynamic.serialize_provider
    pickled: dict[type, str] = {}

    def serialize_provider(provider: Any) -> str:
        # Pickled by reference (module and class), holding no state of its own: every instance
        # pickles the same, so once per class is enough.
        if vars(provider):
            return str(pickle_provider(provider))
        if type(provider) not in pickled:
            pickled[type(provider)] = pickle_provider(provider)
        return pickled[type(provider)]

    def from_input(val: Any) -> pulumi.Output[Any]:
        if type(val) in (dict, list) and is_plain(val):
            return known_output(val, secret=False)
        return lift(val)

    async def serialize_property(value: Any, deps: Any, property_key: Any, resource_obj: Any = None,
                                 input_transformer: Any = None, typ: Any = None, *args: Any, **kwargs: Any) -> Any:
        # (keep_output_values and exclude_resource_refs_from_deps change nothing for plain data;
        # return_protobuf_value, the third option, asks for another form.)
        protobuf = args[2] if len(args) > 2 else kwargs.get("return_protobuf_value", False)
        if (type(value) in (dict, list) and typ is None and not protobuf and _keeps_keys(input_transformer)
                and is_plain(value)):
            return value
        return await serialize(value, deps, property_key, resource_obj, input_transformer, typ, *args, **kwargs)

    async def resolve_depends_on(depends_on: Any) -> set[Any]:
        if type(depends_on) is list and all(isinstance(d, pulumi.Resource) for d in depends_on):
            return set(depends_on)
        return await resolve_deps(depends_on)

    def resource_types(resource_cls: type) -> dict[str, type]:
        if resource_cls not in known_types:
            known_types[resource_cls] = types_of(resource_cls)
        return known_types[resource_cls]

    sdk_resource._get_stack_trace = source_pb2.StackTrace
    sdk_depends_on._resolve_depends_on = resolve_depends_on
    rpc.contains_unknowns = contains_unknowns
    pulumi.Output.from_input = staticmethod(from_input)  # type: ignore[method-assign,assignment]
    rpc.serialize_property = serialize_property  # type: ignore[assignment]
    sdk_types.resource_types = resource_types
    sdk_dynamic.serialize_provider = serialize_provider
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = take_trace
        sdk_depends_on._resolve_depends_on = resolve_deps
        rpc.contains_unknowns = walk_unknowns
        pulumi.Output.from_input = lift  # type: ignore[method-assign]
        rpc.serialize_property = serialize  # type: ignore[assignment]
        sdk_types.resource_types = types_of
        sdk_dynamic.serialize_provider = pickle_provider


def _keeps_keys(input_transformer: Any) -> bool:
    """No translation of property names (none given, or Resource's own, which returns them as they are)."""
    return input_transformer is None or getattr(input_transformer, "__func__", None) is \
        pulumi.Resource.translate_input_property


def contains_unknowns(val: Any) -> bool:
    """rpc.contains_unknowns: is an Unknown anywhere in `val` (dicts and lists walked, each once)."""
    todo, seen = [val], set()
    while todo:
        item = todo.pop()
        if type(item) in _LEAVES:
            continue
        if sdk_known_types.is_unknown(item):
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


class _Marked(Exception):
    """A value the fast reading leaves to the SDK: a marked struct (secret, asset, resource
    reference, output value) or an unknown somewhere inside it."""


def _plain(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        if value.string_value == _UNKNOWN:
            raise _Marked
        return value.string_value
    if kind == "struct_value":
        fields = value.struct_value.fields
        if _SIGNATURE in fields:
            raise _Marked
        out = {}
        for key, item in fields.items():
            plain = _plain(item)
            if plain is not None:  # as the SDK: a null property is no property
                out[key] = plain
        return out
    if kind == "list_value":
        return [_plain(item) for item in value.list_value.values]
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


def deserialize_properties(props: struct_pb2.Struct, keep_unknowns: bool | None = None) -> Any:
    """rpc.deserialize_properties, reading plain properties straight from the protobuf (a fourth
    of the SDK's time for a Worker's binding list); a property holding anything marked or unknown
    is read by the SDK, which also decides what marks move up to the property."""
    if _SIGNATURE in props.fields:
        return rpc.deserialize_properties(props, keep_unknowns)
    out = {}
    for key, value in props.fields.items():
        try:
            plain = _plain(value)
        except _Marked:
            plain = rpc.deserialize_property(props[key], keep_unknowns)
        if plain is not None:
            out[key] = plain
    return out


def at_once(awaitable: Any) -> Any:
    """The result of a coroutine that never waits (serializing plain data), without an event loop."""
    try:
        awaitable.send(None)
    except StopIteration as done:
        return done.value
    awaitable.close()
    raise RuntimeError("offline run: a mock's answer needed to wait, which the offline monitor does not support")


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each call the SDK hands to a thread pool (every engine RPC) at once, in the loop's
    thread: the mocks answer in microseconds, and a pool thread per call costs more than the call
    (a thread handoff, a lock, a wakeup of the loop). A ThreadPoolExecutor that starts no thread,
    as asyncio takes no other kind of default executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine, as a pool would
            future.set_exception(exc)
        return future
