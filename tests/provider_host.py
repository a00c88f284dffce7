"""Drive the real dynamic-provider host (`python -m pulumi.dynamic`) over gRPC on 127.0.0.1,
the way the Pulumi engine does: Configure, then Check/Diff/Create/Update/Read/Delete."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from stacks.resources.worker_bindings import WorkerSecretBindingsProvider

PROJECT_DIR = Path(__file__).resolve().parent.parent
TYPE = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"


CALL_DEADLINE_S = 420


class HostError(Exception):
    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code = code
        self.details = details


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def _dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True))


class EngineLogServer(engine_pb2_grpc.EngineServicer):
    """The engine's `Engine` gRPC service, as far as a provider uses it: it records every `Log`
    (the Pulumi CLI prints them beside the resource)."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str, str]] = []  # (severity, urn, message)
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 - the gRPC method's name
        with self._lock:
            self.messages.append((request.severity, request.urn, request.message))
        return empty_pb2.Empty()

    def close(self) -> None:
        self.server.stop(0)


class ProviderHost:
    """One host process. Keeps a resource's state (outputs) between calls like the engine does.
    `engine`: start it as the engine starts a provider plugin, with the engine's address as its
    first argument, and record what the provider logs there (`self.engine.messages`)."""

    def __init__(self, env: dict[str, str], engine: bool = False):
        full_env = {**os.environ, **env}
        self.engine = EngineLogServer() if engine else None
        args = [f"127.0.0.1:{self.engine.port}"] if self.engine else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi.dynamic", *args], cwd=PROJECT_DIR, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline().decode().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.provider_blob = serialize_provider(WorkerSecretBindingsProvider())
        self.stub.Configure(provider_pb2.ConfigureRequest(args=struct_pb2.Struct(), acceptSecrets=True))
        self.stderr_tail = b""

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        self.stderr_tail = err
        if self.engine is not None:
            self.engine.close()

    def _props(self, props: dict[str, Any]) -> struct_pb2.Struct:
        return _struct({**props, "__provider": self.provider_blob})

    def _call(self, method: str, request: Any) -> Any:
        try:
            # The engine sets no deadline on a provider call, and an update may wait out a whole
            # 5-minute rate-limit window (the benchmark at 500 Workers does): a bound above that.
            return getattr(self.stub, method)(request, timeout=CALL_DEADLINE_S)
        except grpc.RpcError as exc:
            raise HostError(exc.code(), exc.details() or "") from None

    @staticmethod
    def urn(name: str) -> str:
        return f"urn:pulumi:test::secrets-plane::secrets-plane:index:SecretsPlane${TYPE}::{name}"

    def check(self, name: str, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        resp = self._call("Check", provider_pb2.CheckRequest(urn=self.urn(name), olds=self._props(olds),
                                                             news=self._props(news)))
        return _dict(resp.inputs), list(resp.failures)

    def diff(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        return self._call("Diff", provider_pb2.DiffRequest(id=id_, urn=self.urn(name), olds=self._props(olds),
                                                           news=self._props(news)))

    def create(self, name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = self._call("Create", provider_pb2.CreateRequest(urn=self.urn(name), properties=self._props(props)))
        return resp.id, _dict(resp.properties)

    def update(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        resp = self._call("Update", provider_pb2.UpdateRequest(id=id_, urn=self.urn(name), olds=self._props(olds),
                                                               news=self._props(news)))
        return _dict(resp.properties)

    def read(self, name: str, id_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = self._call("Read", provider_pb2.ReadRequest(id=id_, urn=self.urn(name), properties=self._props(props)))
        return resp.id, _dict(resp.properties)

    def delete(self, name: str, id_: str, props: dict[str, Any]) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=self.urn(name), properties=self._props(props)))

    # ---- engine-like helpers -----------------------------------------------------------------
    def up(self, name: str, state: dict[str, Any] | None, news: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """What `pulumi up` does for one resource: create, or diff and update when changed.
        Returns (new state, action)."""
        inputs, failures = self.check(name, state or {}, news)
        if failures:
            raise HostError(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(f.reason for f in failures))
        inputs.pop("__provider", None)
        if state is None:
            id_, outs = self.create(name, inputs)
            outs.pop("__provider", None)
            return {**outs, "_id": id_}, "create"
        id_ = state["_id"]
        olds = {k: v for k, v in state.items() if k != "_id"}
        diff = self.diff(name, id_, olds, inputs)
        if diff.changes != provider_pb2.DiffResponse.DIFF_SOME:
            return state, "same"
        if list(diff.replaces):
            raise AssertionError(f"unexpected replace of {list(diff.replaces)}")
        outs = self.update(name, id_, olds, inputs)
        outs.pop("__provider", None)
        return {**outs, "_id": id_}, "update"
