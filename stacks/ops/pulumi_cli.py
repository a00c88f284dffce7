"""Running the Pulumi CLI from the plane's commands, with values only ever on standard input.

Process listings show a command's arguments to every user of the machine, and Pulumi's Automation
API `set_config`/`set_all_config` put values there; `pulumi config set --secret --path KEY` with no
value reads it from standard input instead, which is the only way a value leaves this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import PlaneError
from ..core.stack_config import NAMESPACE
from ..core.text import scrub


@dataclass(frozen=True)
class PulumiResult:
    returncode: int
    stdout: str
    stderr: str


def pulumi_executable() -> str:
    found = shutil.which(os.environ.get("SECRETS_PLANE_PULUMI", "pulumi"))
    if found is None:
        raise PlaneError.at("pulumi", "", "the Pulumi CLI is not on PATH",
                            "install it (https://www.pulumi.com/docs/install/; CI uses pulumi/actions), or set "
                            "SECRETS_PLANE_PULUMI to its path")
    return found


def run_pulumi(args: Sequence[str], project_dir: Path, stdin: str | None = None,
               capture: bool = True) -> PulumiResult:
    """Run `pulumi ARGS` in the project. `stdin` is the only channel a value may take."""
    proc = subprocess.run([pulumi_executable(), *args], cwd=project_dir, input=stdin, text=True,
                          capture_output=capture, env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    return PulumiResult(proc.returncode, proc.stdout or "", proc.stderr or "")


def set_secret_value(project_dir: Path, stack: str, name: str, value: str) -> PulumiResult:
    """`pulumi config set --secret --path secrets-plane:values.NAME --stack S`, the value on stdin."""
    return set_secret_config(project_dir, stack, f"{NAMESPACE}:values.{name}", value)


def get_secret_value(project_dir: Path, stack: str, key: str) -> PulumiResult:
    """`pulumi config get --path KEY --stack S`: a value comes back on stdout, to this process only."""
    return run_pulumi(["config", "get", "--path", key, "--stack", stack], project_dir)


def set_secret_config(project_dir: Path, stack: str, key: str, value: str) -> PulumiResult:
    """`pulumi config set --secret --path KEY --stack S`, the value on stdin."""
    return run_pulumi(["config", "set", "--secret", "--path", key, "--stack", stack, "--non-interactive"],
                      project_dir, stdin=value)


def set_plain_config(project_dir: Path, stack: str, key: str, value: str) -> PulumiResult:
    """`pulumi config set --path KEY VALUE`: for what is not secret (a date), on argv."""
    return run_pulumi(["config", "set", "--path", key, value, "--stack", stack, "--non-interactive"], project_dir)


def remove_config(project_dir: Path, stack: str, key: str) -> PulumiResult:
    """`pulumi config rm --path KEY --stack S`."""
    return run_pulumi(["config", "rm", "--path", key, "--stack", stack, "--non-interactive"], project_dir)


def pulumi_said(stderr: str, values: Sequence[str]) -> str:
    """The last line Pulumi wrote to stderr, for an error message: scrubbed of the values in every
    encoding, and left out altogether when part of one would still be in it."""
    text, fragment = scrub(" ".join(stderr.strip().splitlines()[-1:]), values)
    if fragment:
        return "its message quoted part of the value and is not shown"
    return text or "no output"
