"""Run the real Pulumi program offline, under Pulumi's mocks, and record what it declares.

Used by `python -m stacks plan`, the tests and the benchmark. No Pulumi CLI, no Cloudflare:
resources are recorded with their options (parent, protect, retain_on_delete, dependencies,
additional secret outputs) and with secret inputs kept wrapped, so callers can prove values
are marked secret and render them as placeholders.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

from ..core.naming import BINDINGS_TYPE, PROJECT, STORE_TYPE
from .sdk_shortcuts import InlineExecutor, at_once, deserialize_properties, sdk_shortcuts

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    read: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    error_hooks: list[str] = field(default_factory=list)


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    invokes: list[tuple[str, dict[str, Any]]]
    outputs: dict[str, Any]
    warnings: list[str]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]


UNKNOWN_TEXT = "[known after apply]"


def _known(value: Any) -> Any:
    """Outputs computed by providers are unknown in a preview: show them as such."""
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known(v) for v in value]
    if type(value).__name__ == "Unknown":
        return UNKNOWN_TEXT
    return value


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def reveal(value: Any) -> Any:
    """Unwrap secret markers recursively (tests only compare structure with this)."""
    if rpc.is_rpc_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def redact(value: Any, placeholder: str = "[secret]") -> Any:
    """Replace every secret-marked value with a placeholder."""
    if rpc.is_rpc_secret(value):
        return placeholder
    if isinstance(value, dict):
        return {k: redact(v, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, placeholder) for v in value]
    return value


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, invokes: list[tuple[str, dict[str, Any]]],
                 stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
                 store_secret_names: list[str] | None = None):
        self.invokes = invokes
        self.stack_outputs = stack_outputs or {}
        self.store_secret_names = store_secret_names or []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            # A referenced stack that never ran reports no outputs.
            name = str(args.inputs.get("name") or args.resource_id)
            return name, {"name": name, "outputs": dict(self.stack_outputs.get(name, {})),
                          "secretOutputNames": []}
        if args.resource_id:
            return args.resource_id, state
        if args.typ == STORE_TYPE:
            return "0" * 31 + "1", state
        if args.typ == BINDINGS_TYPE:
            # What the provider returns is not known before an apply; echoing every Worker's
            # binding specs back would only cost the SDK seconds of translation at 200 Workers.
            return f"{args.name}-id", {}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "cloudflare:index/getSecretsStore:getSecretsStore":
            store_id = args.args.get("storeId") or args.args.get("store_id")
            return {"id": store_id, "storeId": store_id, "accountId": args.args.get("accountId"),
                    "name": "adopted-store"}
        if args.token == "cloudflare:index/getSecretsStoreSecrets:getSecretsStoreSecrets":
            return {"accountId": args.args.get("accountId"), "storeId": args.args.get("storeId"),
                    "results": [{"id": f"{i:032x}", "name": name, "status": "active", "scopes": ["workers"],
                                 "comment": "", "created": "", "modified": "", "storeId": args.args.get("storeId")}
                                for i, name in enumerate(self.store_secret_names)]}
        return {}


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, recording every registration. `fast`: registrations are answered
    at once on the calling thread and read with sdk_shortcuts' reader (see run_program)."""

    def __init__(self, mocks: pulumi.runtime.Mocks, fast: bool = False):
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.fast = fast

    def _record(self, request: Any, urn: str, read: bool, inputs: dict[str, Any] | None = None) -> None:
        if inputs is None:
            inputs = rpc.deserialize_properties(request.properties if read else request.object, keep_unknowns=True)
        self.recorded.append(RecordedResource(
            urn=urn, type=request.type, name=request.name, parent=request.parent,
            custom=True if read else bool(request.custom), read=read, inputs=dict(inputs),
            protect=bool(getattr(request, "protect", False)) if not read else False,
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)) if not read else False,
            additional_secret_outputs=list(getattr(request, "additionalSecretOutputs", []) or []),
            dependencies=list(getattr(request, "dependencies", []) or []),
            error_hooks=list(request.hooks.on_error) if not read and request.HasField("hooks") else [],
        ))

    def RegisterResource(self, request: Any) -> Any:
        if not self.fast:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != STACK_TYPE:
                self._record(request, response.urn, read=False)
            return response
        # MockMonitor.RegisterResource with its answer serialized at once (it would otherwise pump
        # the loop this call now runs on). The request is read with unknowns kept, as recorded; in
        # a preview that is also how the SDK's monitor reads it for the mocks.
        urn = self.make_urn(request.parent, request.type, request.name)  # type: ignore[no-untyped-call]
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = deserialize_properties(request.object, keep_unknowns=True)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name,
            inputs=inputs if pulumi.runtime.is_dry_run() else rpc.deserialize_properties(request.object),
            provider=request.provider, resource_id=request.importId, custom=request.custom or False)
        id_, state = self.mocks.new_resource(args)
        answer = at_once(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)  # type: ignore[arg-type]
        self._record(request, urn, read=False, inputs=inputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=answer)

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._record(request, response.urn, read=True)
        return response


class _WarningLogger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.warnings.append(msg)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.warnings.append(msg)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        pass

    debug = info


def _quiet_about_reported_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A program error reaches the caller as an exception; the same error left in other futures of
    the run would otherwise be printed again, with a traceback, when they are collected."""
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    loop.default_exception_handler(context)


def stack_config(namespace_values: Mapping[str, Any], secret_keys: list[str]) -> tuple[dict[str, str], list[str]]:
    """Pulumi config as the CLI hands it to a program: strings, objects JSON-encoded."""
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in namespace_values.items()}
    return config, secret_keys


def run_program(project_dir: Path, stack: str, config: Mapping[str, Any], secret_keys: list[str],
                preview: bool = True, program: Callable[[], Any] | None = None,
                stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
                store_secret_names: list[str] | None = None, shortcuts: bool = True,
                manifest_file: str | None = None) -> ProgramRun:
    """Run `__main__.py` (or `program`) in a fresh Pulumi context under mocks. `store_secret_names`:
    the secrets the mocked store lookup finds (external secrets are looked up by name);
    `shortcuts`: see sdk_shortcuts; `manifest_file`: the manifest the program reads (default: the
    project's)."""

    def _run() -> ProgramRun:
        if manifest_file is not None:
            from .program import MANIFEST
            MANIFEST.set(manifest_file)
        invokes: list[tuple[str, dict[str, Any]]] = []
        mocks = _Mocks(invokes, stack_outputs, store_secret_names)
        monitor = _RecordingMonitor(mocks, fast=shortcuts)
        logger = _WarningLogger()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_quiet_about_reported_errors)
        if shortcuts:
            loop.set_default_executor(InlineExecutor())
        try:
            cfg, keys = stack_config(config, secret_keys)
            pulumi.runtime.set_all_config(cfg, keys)
            pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                                   monitor=monitor, logger=logger)  # type: ignore[arg-type]
            # A program that failed earlier in this process can leave RPCs bound to its closed loop.
            settings = pulumi.runtime.settings.SETTINGS
            settings.rpc_manager.clear()
            settings.outputs.clear()
            def target() -> None:
                if program is not None:
                    program()
                else:
                    runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

            loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(target))
            root = pulumi.runtime.get_root_resource()
            outputs: dict[str, Any] = {}
            if root is not None:
                for key, value in getattr(root, "outputs", {}).items():
                    out = pulumi.Output.from_input(value)
                    resolved = loop.run_until_complete(out.future(with_unknowns=True))
                    secret = loop.run_until_complete(out.is_secret())
                    resolved = _known(resolved)
                    outputs[key] = rpc.wrap_rpc_secret(resolved) if secret else resolved
            return ProgramRun(stack, monitor.recorded, invokes, outputs, logger.warnings)
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
            loop.close()
            asyncio.set_event_loop(None)

    # A run allocates tens of thousands of Outputs and futures that all live until it ends; with
    # pulumi_cloudflare's few hundred thousand objects in the heap, each full collection the run
    # triggers walks them all for nothing (a third of a 200-Worker run). Collection resumes after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with sdk_shortcuts() if shortcuts else contextlib.nullcontext():
            return contextvars.Context().run(_run)
    finally:
        if collecting:
            gc.enable()
