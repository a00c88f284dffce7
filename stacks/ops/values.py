"""`values load` and `values status`: a stack's secret values in bulk, never on a command line.

`load` reads a dotenv file (`NAME=value` lines) or a JSON object, checks EVERY name against the
manifest and every size against where the value goes before setting anything, then sets each as
`secrets-plane:values.NAME` (encrypted) through `pulumi config set` with the value on standard
input. It prints counts and names, never a value. `status` reads the stack file (without
decrypting anything) and lists which values the stack needs, which are set and which are missing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..core.desired_state import DesiredState
from ..core.dotenv_file import NOT_SHOWN, parse_dotenv
from ..core.errors import Location, PlaneError, Problem, ProblemCollector, did_you_mean, shown_name
from ..core.estate import MANIFEST_FILE, Estate
from ..core.json_source import load_json_text
from ..core.stack_config import NAMESPACE
from ..core.values import oversized_values
from .pulumi_cli import pulumi_said, set_secret_value


@dataclass
class ValuesFile:
    label: str
    values: dict[str, str]
    lines: dict[str, int | None] = field(default_factory=dict)

    def location(self, name: str) -> Location:
        return Location(self.label, name, self.lines.get(name))


def read_values(source: str, known: Collection[str], stdin: TextIO | None = None) -> ValuesFile:
    """A dotenv or JSON file (or `-` for standard input) as name -> value, with line numbers.
    `known`: the manifest's secret names, the only names (with near misses of them) a message
    shows; any other text where a name goes is reported by its line."""
    label = "<stdin>" if source == "-" else source
    try:
        text = (stdin or sys.stdin).read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        # Not named: what was typed where the file goes may be a value (`values load sk_live_...`).
        raise PlaneError.at("values load", "FILE", f"cannot read the values file given ({type(exc).__name__}; its "
                            "name is not shown: it may be a value typed there by mistake)",
                            "pass a dotenv or JSON file, or `-` to read standard input") from None
    except UnicodeDecodeError:
        raise PlaneError.at(label, "", "not valid UTF-8", "save the file as UTF-8") from None
    if text.lstrip().startswith("{"):
        return _read_json(label, text, known)
    return _read_dotenv(label, text, known)


def _shown(known: Collection[str]) -> Callable[[str], str | None]:
    return lambda name: shown_name(name, known)


def _read_json(label: str, text: str, known: Collection[str]) -> ValuesFile:
    data = load_json_text(text, label, "fix the JSON, or use dotenv lines NAME=value", _shown(known))
    problems = ProblemCollector()
    if not isinstance(data, dict):
        raise PlaneError.at(label, "", "a JSON values file must be an object of name -> string", "write {\"NAME\": \"value\"}")
    out = ValuesFile(label, {})
    for name, value in data.items():
        line = _json_line(text, name)
        shown = shown_name(name, known)
        where = Location(label, shown or "", line)
        what = f"'{shown}'" if shown else f"the entry at line {line} (its name is not shown: it may be a value)"
        if not isinstance(value, str):
            problems.error(where, f"the value of {what} is not a string", "quote it: every secret value is text")
            continue
        if not value:
            problems.error(where, f"{what} has no value",
                           "give it a value, or drop the entry to leave the value as it is")
            continue
        out.values[name] = value
        out.lines[name] = line
    problems.raise_if_errors()
    return out


def _json_line(text: str, name: str) -> int | None:
    index = text.find(json.dumps(name))
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def _read_dotenv(label: str, text: str, known: Collection[str]) -> ValuesFile:
    problems = ProblemCollector()
    out = ValuesFile(label, {})
    entries, shape = parse_dotenv(label, text, _shown(known))
    problems.extend(shape)
    for entry in entries:
        shown = shown_name(entry.key, known)
        where = Location(label, shown or "", entry.line)
        what = f"'{shown}'" if shown else f"the name at line {entry.line} ({NOT_SHOWN})"
        if not entry.value:
            # `NAME=` would set an empty credential: a Worker would then fail at its first call.
            problems.error(where, f"{what} has no value", "write NAME=value, or drop the line to leave the value as it is")
            continue
        if entry.key in out.values:
            problems.error(where, f"{what} is set twice (first at line {out.lines[entry.key]})", "keep one")
            continue
        out.values[entry.key] = entry.value
        out.lines[entry.key] = entry.line
    problems.raise_if_errors()
    return out


def unknown_names(file: ValuesFile, known: Collection[str], fix: str) -> list[Problem]:
    """A problem for each name of the file that is not a secret of the manifest: named when it is
    a near miss of one, otherwise by its line only (the text may be a value)."""
    out = []
    for name in file.values:
        if name in known:
            continue
        shown = shown_name(name, known)
        line = file.lines.get(name)
        if shown:
            out.append(Problem(file.location(name), f"'{shown}' is not a secret of {MANIFEST_FILE}",
                               did_you_mean(shown, known) or fix))
        else:
            out.append(Problem(Location(file.label, "", line), f"the name at line {line} is not a secret of "
                               f"{MANIFEST_FILE} ({NOT_SHOWN})", fix))
    return out


def check_values(estate: Estate, desired: DesiredState, file: ValuesFile) -> list[str]:
    """Every problem of the file at once (raises); returns notes for names this stack does not use."""
    m = estate.manifest.manifest
    problems = ProblemCollector()
    problems.extend(unknown_names(file, m.secrets, "declare it under `secrets:` first, or drop the line"))
    for name in file.values:
        if name in m.secrets and m.secrets[name].external:
            problems.error(file.location(name), f"'{name}' is external: the plane never owns its value",
                           "drop the line, or drop `external: true` in secrets_manifest.yaml")
    sizes = {n: len(v.encode("utf-8")) for n, v in file.values.items() if n in m.secrets}
    problems.extend(oversized_values(desired, sizes, {n: file.location(n) for n in sizes}))
    problems.raise_if_errors()
    needed = set(desired.needed_values)
    return [f"'{n}' is not used by stack '{desired.stack}': set anyway" for n in sorted(file.values) if n not in needed]


def load_values(estate: Estate, stack: str, source: str, out: TextIO, stdin: TextIO | None = None,
                dry_run: bool = False) -> int:
    desired = estate.desired_state(stack)
    file = read_values(source, estate.manifest.manifest.secrets, stdin)
    notes = check_values(estate, desired, file)
    for note in notes:
        print(f"note: {note}", file=out)
    missing = sorted(set(desired.needed_values) - set(estate.stacks[stack].settings.value_names) - set(file.values))
    if dry_run:
        names = sorted(file.values)
        print(f"would set {len(names)} value(s) for stack '{stack}' (encrypted, through standard input): "
              f"{', '.join(names)}", file=out)
        for name in names:
            print(f"  pulumi config set --secret --path '{NAMESPACE}:values.{name}' --stack {stack}  # value on stdin",
                  file=out)
        if missing:
            print(f"still missing for stack '{stack}' after that ({len(missing)}): {', '.join(missing)}", file=out)
        return 0
    done: list[str] = []
    for name in sorted(file.values):
        # pulumi strips ONE trailing newline from standard input: send one, so the value is exact.
        result = set_secret_value(estate.project_dir, stack, name, file.values[name] + "\n")
        if result.returncode != 0:
            said = pulumi_said(result.stderr, [file.values[name]])
            raise PlaneError.at(f"Pulumi.{stack}.yaml", f"config.secrets-plane:values.{name}",
                                f"pulumi config set failed ({said}) "
                                f"after {len(done)} of {len(file.values)} values were set ({', '.join(done) or 'none'})",
                                "fix the cause and run the same command again: setting a value twice is harmless")
        done.append(name)
    print(f"set {len(done)} value(s) for stack '{stack}' (encrypted, through standard input): {', '.join(done)}", file=out)
    if missing:
        print(f"still missing for stack '{stack}' ({len(missing)}): {', '.join(missing)}", file=out)
    return 0


@dataclass
class ValueStatus:
    needed: list[str]
    set_encrypted: list[str]
    plaintext: list[str]
    missing: list[str]
    unused: list[str]


def value_status(estate: Estate, stack: str) -> ValueStatus:
    desired = estate.desired_state(stack)
    loaded = estate.stacks[stack]
    config = ((loaded.doc.data or {}).get("config") or {}) if loaded.doc else {}
    raw = config.get("secrets-plane:values") or {}
    present = set(raw) if isinstance(raw, Mapping) else set()
    plaintext = sorted(n for n in present if not (isinstance(raw[n], Mapping) and set(raw[n]) == {"secure"}))
    needed = list(desired.needed_values)
    return ValueStatus(
        needed=needed,
        set_encrypted=sorted(n for n in needed if n in present and n not in plaintext),
        plaintext=plaintext,
        missing=sorted(n for n in needed if n not in present),
        unused=sorted(n for n in present if n not in needed),
    )


def render_status(stack: str, status: ValueStatus) -> str:
    lines = [f"values of stack '{stack}': {len(status.needed)} needed, {len(status.set_encrypted)} set (encrypted), "
             f"{len(status.missing)} missing" + (f", {len(status.plaintext)} in plain text" if status.plaintext else "")]
    for title, names in (("missing", status.missing), ("in plain text (re-set them encrypted)", status.plaintext),
                         ("set but not needed by this stack", status.unused)):
        if names:
            lines.append(f"{title}: {', '.join(names)}")
    if status.missing:
        lines.append(f"set them: python -m stacks values load --stack {stack} FILE   (dotenv or JSON; `-` for stdin)")
    return "\n".join(lines)
