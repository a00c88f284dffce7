"""Reading dotenv text (`NAME=value` lines) without ever taking a value for a name.

A line without `=` is not a name: it is a token pasted on its own line, or the second line of a
PEM key written after `NAME=` without quotes. python-dotenv reads such a line as a name with no
value, and a message that then says "'<the line>' has no value" prints the value. Here such lines
are reported by their line number only, and the lines of an unquoted PEM block are recognised as
what they are (the block's first line says where it starts). Which names a message may show is
the caller's to say (`show`): a name it knows, or a near miss of one.

Pure: text in, entries and problems out.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from dotenv.parser import parse_stream

from .errors import Location, Problem

NOT_SHOWN = "its text is not shown: it may be part of a value"
QUOTE_HINT = ("write NAME=value, one per line; quote a value that spans lines (NAME=\"-----BEGIN ...\\n...\"), "
              "or use a JSON file")
_PEM_START, _PEM_END = "-----BEGIN", "-----END"


@dataclass(frozen=True)
class DotenvEntry:
    key: str
    value: str
    line: int


def parse_dotenv(label: str, text: str, show: Callable[[str], str | None]) -> tuple[list[DotenvEntry], list[Problem]]:
    """Every `NAME=value` entry of `text` (values may be empty: the caller decides), and a problem
    for each line that is not one, located by line. `show(name)`: the name as a message may show
    it, or None."""
    entries: list[DotenvEntry] = []
    problems: list[Problem] = []
    pem_open: int | None = None  # the line of an unquoted PEM block's first line, until its end
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        lead = len(original) - len(original.lstrip())
        line = binding.original.line + original[:lead].count("\n")
        if pem_open is not None:
            if _PEM_END in original:
                pem_open = None
            continue  # one problem for the whole block, at its first line
        if binding.key is None and not binding.error:
            continue  # a comment or a blank line
        if binding.error or binding.key is None or binding.value is None:
            problems.append(Problem(Location(label, "", line), f"line {line} is not a NAME=value line ({NOT_SHOWN})",
                                    QUOTE_HINT))
            continue
        after = original[lead:].split("=", 1)[1].lstrip() if "=" in original else ""
        if binding.value.startswith(_PEM_START) and _PEM_END not in binding.value and after[:1] not in "'\"`":
            pem_open = line
            problems.append(Problem(Location(label, show(binding.key) or "", line),
                                    f"the value at line {line} is a PEM block written across lines without quotes: "
                                    "only its first line would be read, and its other lines taken for names",
                                    "quote the whole block: NAME=\"-----BEGIN ...\\n...\\n-----END ...\" (or use a "
                                    "JSON file, with \\n for each line break)"))
            continue
        entries.append(DotenvEntry(binding.key, binding.value, line))
    return entries, problems
