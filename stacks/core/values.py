"""The rules a stack's secret values must meet, in one place: which values a stack needs, and how
large each may be given where it goes. Checked by the program (at preview, on the real values) and
by `values load` (before anything is set). Names and sizes only: a value never reaches a message."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .desired_state import DesiredState
from .errors import Location, Problem
from .limits import SECRET_TEXT_MAX_BYTES, STORE_VALUE_MAX_BYTES
from .stack_config import NAMESPACE, set_value_command


def value_location(stack: str, name: str, line: int | None = None) -> Location:
    return Location(f"Pulumi.{stack}.yaml", f"config.{NAMESPACE}:values.{name}", line)


def value_limit(desired: DesiredState, secret: str) -> tuple[int, str]:
    """(max bytes, why): a Worker secret holds 5 KiB; a store secret 64 KiB."""
    if secret in desired.text_values:
        holders = sorted({w.worker + (" (fallback copy)" if b.role == "fallback" else "")
                          for w, b in desired.holders(secret) if b.needs_value})
        return SECRET_TEXT_MAX_BYTES, f"the Workers limit of a secret_text value (bound so on {', '.join(holders)})"
    return STORE_VALUE_MAX_BYTES, "the Secrets Store limit of a value"


def missing_values(desired: DesiredState, present: Collection[str]) -> list[Problem]:
    return [Problem(value_location(desired.stack, name),
                    f"no value for secret '{name}', which stack '{desired.stack}' needs ({desired.mode})",
                    set_value_command(desired.stack, name))
            for name in desired.needed_values if name not in present]


def oversized_values(desired: DesiredState, sizes: Mapping[str, int],
                     where: Mapping[str, Location] | None = None) -> list[Problem]:
    problems = []
    for name, size in sorted(sizes.items()):
        limit, why = value_limit(desired, name)
        if size > limit:
            fix = ("move it to the store (`backend: store` and no fallback copy), or store a reference instead"
                   if limit == SECRET_TEXT_MAX_BYTES else "store a reference instead")
            problems.append(Problem((where or {}).get(name) or value_location(desired.stack, name),
                                    f"value of '{name}' is {size} bytes, over {limit} bytes, {why}", fix))
    return problems
