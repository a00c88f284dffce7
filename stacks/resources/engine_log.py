"""Messages from the dynamic provider to the Pulumi engine, shown beside the resource in
`pulumi up`/`preview` output while the operation runs.

The engine starts every resource-provider plugin with the address of its own gRPC `Engine`
service as the first argument (the `pulumi-resource-pulumi-python` shim passes its arguments on
to `python -m pulumi.dynamic`, which ignores them). Providers written with Pulumi's Go SDK log
through that service (`HostClient.Log`); the Python dynamic-provider host offers nothing of the
kind, so the provider dials it itself. Without an engine (tests that drive the host directly, a
host started by hand) messages go to the process's log only.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

LOG = logging.getLogger("secrets-plane")
_ADDRESS = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]|[\w.-]+):\d{1,5}$")


class EngineLog:
    """One connection to the engine, opened on first use and shared by the host's threads."""

    def __init__(self, argv: list[str] | None = None) -> None:
        args = sys.argv if argv is None else argv
        self.address = args[1] if len(args) > 1 and _ADDRESS.match(args[1]) else None
        self._stub: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        with self._lock:
            if self._stub is None and self.address is not None:
                import grpc
                from pulumi.runtime.proto import engine_pb2_grpc

                self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(self.address))
            return self._stub

    def info(self, urn: str, message: str) -> None:
        """Say `message` about the resource `urn`: in the engine's output when there is an engine,
        and always in the provider's own log."""
        self._log(urn, message, warning=False)

    def warning(self, urn: str, message: str) -> None:
        """As `info`, as a warning: something the person applying should act on."""
        self._log(urn, message, warning=True)

    def _log(self, urn: str, message: str, warning: bool) -> None:
        LOG.warning("%s", message)
        engine = self._engine()
        if engine is None:
            return
        from pulumi.runtime.proto import engine_pb2

        severity = engine_pb2.WARNING if warning else engine_pb2.INFO
        try:
            engine.Log(engine_pb2.LogRequest(severity=severity, message=message, urn=urn), timeout=5)
        except Exception as exc:  # noqa: BLE001 - a message that cannot be shown must never fail an apply
            LOG.debug("could not log to the engine at %s: %s", self.address, type(exc).__name__)


ENGINE = EngineLog()
