"""Each shortcut of stacks/resources/sdk_shortcuts.py against the SDK step it replaces, on
generated values: plain data, nulls, numbers, secrets and unknowns at any depth."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pytest
from conftest import ROOT
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.asset import StringAsset
from pulumi.dynamic import ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import rpc

from stacks.resources.offline import run_program
from stacks.resources.sdk_shortcuts import (
    InlineExecutor,
    at_once,
    contains_unknowns,
    deserialize_properties,
    sdk_shortcuts,
)

SECRET = {rpc._special_sig_key: rpc._special_secret_sig}


def _wire_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """What the engine can put in a Struct: JSON values, the unknown marker, secret-marked values."""
    leaves = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=8), st.just(rpc.UNKNOWN))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=4),
            inner.map(lambda v: {**SECRET, "value": v}),
        ),
        max_leaves=12,
    )


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


PROPS = st.dictionaries(st.text(min_size=1, max_size=6), _wire_values(), max_size=5)


@settings(max_examples=300, deadline=None)
@given(PROPS, st.sampled_from([True, False, None]))
def test_reading_a_struct_gives_what_the_sdk_gives(props: dict[str, Any], keep_unknowns: bool | None) -> None:
    struct = _struct(props)
    ours, sdk = deserialize_properties(struct, keep_unknowns), rpc.deserialize_properties(struct, keep_unknowns)
    assert _comparable(ours) == _comparable(sdk)


def test_a_marked_top_level_struct_is_left_to_the_sdk() -> None:
    struct = _struct({**SECRET, "value": "x"})
    assert deserialize_properties(struct) == rpc.deserialize_properties(struct) == {**SECRET, "value": "x"}


def _comparable(value: Any) -> Any:
    """Unknown() instances compare by identity: name them."""
    if isinstance(value, Unknown):
        return "<unknown>"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _python_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.builds(Unknown))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=3), inner, max_size=4)),
                        max_leaves=15)


@settings(max_examples=500, deadline=None)
@given(_python_values())
def test_the_unknown_walk_agrees_with_the_sdk(value: Any) -> None:
    assert contains_unknowns(value) is rpc.contains_unknowns(value)


def test_the_unknown_walk_visits_a_shared_or_cyclic_value_once() -> None:
    shared: list[Any] = ["a"]
    cyclic: dict[str, Any] = {"self": None, "items": [shared, shared]}
    cyclic["self"] = cyclic
    assert contains_unknowns(cyclic) is rpc.contains_unknowns(cyclic) is False
    shared.append(Unknown())  # type: ignore[no-untyped-call]
    assert contains_unknowns(cyclic) is rpc.contains_unknowns(cyclic) is True


def test_the_inline_executor_answers_at_once_and_hands_errors_back() -> None:
    loop = asyncio.new_event_loop()
    loop.set_default_executor(InlineExecutor())
    try:
        assert loop.run_until_complete(loop.run_in_executor(None, lambda: 41 + 1)) == 42

        def refuse() -> None:
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused"):
            loop.run_until_complete(loop.run_in_executor(None, refuse))
    finally:
        loop.close()


def test_a_coroutine_that_waits_is_refused_not_run_half() -> None:
    async def plain() -> int:
        return 7

    async def waits() -> None:
        await asyncio.sleep(0)

    assert at_once(plain()) == 7
    with pytest.raises(RuntimeError, match="needed to wait"):
        at_once(waits())


def test_the_unknown_walk_does_not_stop_at_a_plain_or_an_already_seen_value() -> None:
    shared = ["a"]
    for value in ([Unknown(), "x"], {"a": "x", "b": [1, Unknown()]}, ["x", [None, [Unknown()]], 2],  # type: ignore[no-untyped-call]
                  [Unknown(), shared, shared]):  # type: ignore[no-untyped-call]
        assert contains_unknowns(value) is rpc.contains_unknowns(value) is True


def test_a_marked_top_level_asset_is_read_by_the_sdk() -> None:
    struct = _struct({rpc._special_sig_key: rpc._special_asset_sig, "text": "hello"})
    ours, sdk = deserialize_properties(struct), rpc.deserialize_properties(struct)
    assert isinstance(ours, StringAsset) and isinstance(sdk, StringAsset) and ours.text == sdk.text == "hello"


@pulumi.input_type
class _TypedArgs:
    """An input type whose Python names differ from its Pulumi names, as generated SDKs make them."""

    def __init__(self, *, api_key: str) -> None:
        pulumi.set(self, "api_key", api_key)

    @property
    @pulumi.getter(name="apiKey")
    def api_key(self) -> str:
        return str(pulumi.get(self, "api_key"))


def _serialized_both_ways(value: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The same value serialized by the SDK alone, then with the shortcuts in place."""
    async def serialize() -> Any:
        return await rpc.serialize_property(value, [], "prop", None, *args, **kwargs)

    sdk = asyncio.run(serialize())
    with sdk_shortcuts():
        ours = asyncio.run(serialize())
    return ours, sdk


@pytest.mark.parametrize("args,kwargs", [
    ((None, _TypedArgs), {}),                                    # a type translates the keys
    ((lambda key: key.upper(),), {}),                            # so does a name translator
    ((None, None, False, False, True), {}),                      # a protobuf Value asked for (by position)
    ((None, None), {"return_protobuf_value": True}),             # ... and by name
])
def test_plain_data_serializes_as_the_sdk_serializes_it_when_something_changes_its_form(
        args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    value = {"api_key": "k", "nested": [{"api_key": "v"}]}
    ours, sdk = _serialized_both_ways(value, *args, **kwargs)
    assert ours == sdk
    assert type(ours) is type(sdk)


def test_plain_data_serializes_to_itself() -> None:
    value = {"name": "API_KEY", "bindings": [{"type": "secret_text", "n": 1.0}]}
    ours, sdk = _serialized_both_ways(value)
    assert ours == sdk == value


class _StatefulProvider(ResourceProvider):
    def __init__(self, setting: str) -> None:
        self.setting = setting


class _StatelessProvider(ResourceProvider):
    pass


def test_a_provider_with_state_of_its_own_is_pickled_each_time() -> None:
    from pulumi.dynamic import dynamic as sdk_dynamic

    pickle = sdk_dynamic.serialize_provider
    expected = [pickle(p) for p in (_StatefulProvider("a"), _StatefulProvider("b"), _StatelessProvider())]
    with sdk_shortcuts():
        assert [sdk_dynamic.serialize_provider(p) for p in (_StatefulProvider("a"), _StatefulProvider("b"),
                                                            _StatelessProvider())] == expected
    assert expected[0] != expected[1]


def test_depends_on_given_as_outputs_resolves_as_the_sdk_resolves_it() -> None:
    """The program passes plain lists of resources; anything else goes to the SDK, with the same result."""
    def program() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first", {})
        second = pulumi.CustomResource("test:index:Thing", "second", {})
        pulumi.CustomResource("test:index:Thing", "as-output", {},
                              opts=pulumi.ResourceOptions(depends_on=pulumi.Output.from_input([first])))
        pulumi.CustomResource("test:index:Thing", "output-inside", {},
                              opts=pulumi.ResourceOptions(depends_on=[first, pulumi.Output.from_input(second)]))
        pulumi.CustomResource("test:index:Thing", "plain", {}, opts=pulumi.ResourceOptions(depends_on=[first, second]))

    def dependencies(shortcuts: bool) -> dict[str, list[str]]:
        run = run_program(ROOT, "staging", {}, [], program=program, shortcuts=shortcuts)
        return {r.name: sorted(r.dependencies) for r in run.resources}

    fast = dependencies(True)
    assert fast == dependencies(False)
    assert len(fast["output-inside"]) == len(fast["plain"]) == 2 and len(fast["as-output"]) == 1
