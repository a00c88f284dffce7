"""One canary value per secret through every path: the plaintext appears nowhere except the
request to the (fake) API and fields marked secret."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID, canary, host_env, leak_scan, stack_config
from fake_cloudflare import Fault
from provider_host import HostError, ProviderHost
from test_worker_bindings import UNMANAGED, legacy_props, store_spec

from stacks.cli import main
from stacks.resources.offline import redact, run_program

scanned = leak_scan


def cli(project: Path, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--project-dir", str(project), "--debug", *args])
    finally:
        logging.getLogger().removeHandler(handler)
    return code, scanned(out.getvalue() + err.getvalue())


def test_cli_paths_never_print_a_value(project: Path) -> None:
    # A value committed in plain text by mistake: every command names it and never prints it.
    stack = project / "Pulumi.staging.yaml"
    stack.write_text(stack.read_text() + f"  secrets-plane:values:\n    OPENAI_API_KEY: {canary('OPENAI_API_KEY')}\n")
    outputs = []
    for args in (["validate"], ["validate", "--require-values"], ["plan", "--stack", "staging"],
                 ["plan", "--stack", "staging", "--format", "json"], ["plan", "--stack", "prod", "--backend", "store"]):
        code, text = cli(project, *args)
        outputs.append(text)
        assert CANARY_PREFIX not in text, args
    assert "value of 'OPENAI_API_KEY' is stored in plain text" in outputs[0]


def test_plan_output_is_placeholders_only(project: Path) -> None:
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "  secrets-plane:values:\n    OPENAI_API_KEY:\n      secure: v1:abc:def\n")
    code, text = cli(project, "plan", "--stack", "prod", "--format", "json")
    assert code == 0
    plan = json.loads(text[: text.rindex("}") + 1])
    assert "OPENAI_API_KEY" not in plan["missing_values"]
    assert CANARY_PREFIX not in text and "v1:abc:def" not in text


@pytest.mark.parametrize("stack,backend", [("staging", "legacy"), ("staging", "store"), ("prod", "legacy"),
                                           ("prod", "store")])
def test_program_outputs_and_unmarked_inputs_carry_no_value(stack: str, backend: str) -> None:
    result = run_program(ROOT, stack, stack_config(stack, backend=backend), ["secrets-plane:values"])
    assert CANARY_PREFIX not in scanned(json.dumps(redact(result.outputs)))
    for res in result.resources:
        assert CANARY_PREFIX not in scanned(json.dumps(redact(res.inputs), default=str), "dump"), res.name
    assert CANARY_PREFIX not in scanned(" ".join(result.warnings))


def test_provider_debug_logs_and_errors_carry_no_value(fake) -> None:  # type: ignore[no-untyped-def]
    host = ProviderHost(host_env(fake, "t", CLOUDFLARE_LOG="debug"))
    try:
        fake.add_script(ACCOUNT, "w", UNMANAGED)
        state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
        rotated = legacy_props("w", ["A", "B"])
        rotated["values"]["A"] = canary("rotated")
        # An API error that echoes the request, on each write path: the bulk write of a rotation
        # and the settings write of a flip (both carry values).
        fake.faults.append(Fault("PATCH", r"/secrets-bulk$", kind="echo", status=400, times=99))
        with pytest.raises(HostError) as info:
            host.up("w", state, rotated)
        assert CANARY_PREFIX not in scanned(info.value.details)
        assert "[secret]" in info.value.details
        fake.seed_store(ACCOUNT, STORE_ID, ["C_STAGING"])
        flipped = legacy_props("w", ["A", "B"])
        flipped["values"]["A"] = canary("rotated")
        flipped["bindings"].append(store_spec("C"))
        fake.faults.append(Fault("PATCH", r"/settings$", kind="echo", status=400, times=99))
        with pytest.raises(HostError) as info:
            host.up("w", state, flipped)
        assert CANARY_PREFIX not in scanned(info.value.details)
        assert "[secret]" in info.value.details
        public = {k: v for k, v in state.items() if k != "values"}
        assert CANARY_PREFIX not in scanned(json.dumps(public))
    finally:
        host.close()
    log = scanned(host.stderr_tail.decode(errors="replace"))
    assert "Request options: [not logged" in log, "debug logging was on, so the redacted line must be there"
    assert CANARY_PREFIX not in log
    # The values did reach the API, and only there.
    assert canary("A").encode() in fake.traffic()


def test_runtime_missing_and_oversized_value_errors_name_no_value() -> None:
    values = {n: canary(n) for n in ["OPENAI_API_KEY"]}
    values["HUBSPOT_ACCESS_TOKEN"] = CANARY_PREFIX + "y" * 70_000
    proc = subprocess.run(
        [sys.executable, "-c", (
            "import json,sys; from pathlib import Path; sys.path.insert(0, 'tests'); "
            "from conftest import stack_config; from stacks.resources.offline import run_program; "
            "run_program(Path('.'), 'prod', stack_config('prod', values=json.loads(sys.argv[1])), ['secrets-plane:values'])"),
         json.dumps(values)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "bytes, over 5120 bytes" in proc.stderr
    assert CANARY_PREFIX not in scanned(proc.stdout + proc.stderr.replace(json.dumps(values), ""))
