"""The docs' generated parts, made from what the program itself uses so they cannot drift: the
manifest and stack settings reference (the pydantic models and their JSON Schema), each command's
usage (the argument parser), the token permissions of each command (api/permissions.py) and what
a copy of a served version does with each field (resources/version_copies.py).

In a page, a part sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
`python -m stacks.reference --write` rewrites every part of every page, `--check` exits 1 naming
the stale ones (tests/test_docs.py runs the check)."""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .api.permissions import APPLY, BYOK_APPLY, BYOK_READ, COMMANDS, READ_ONLY
from .cli import build_parser
from .core.manifest import GatewayKeySpec, GenerateSpec, Manifest, SecretSpec, WorkerSpec, WranglerSpec
from .core.schema import manifest_schema
from .core.stack_config import KNOWN_KEYS, NAMESPACE, VALUES_DESCRIPTION, StackSettings, StoreSetting

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "SECURITY.md", "docs/*.md")
MARK = re.compile(r"<!-- generated:([a-z-]+) -->\n(.*?)<!-- /generated:\1 -->", re.S)
USAGE_WIDTH = 100  # argparse wraps to the terminal; the docs must not depend on one


# ---- the manifest and stack settings ---------------------------------------------------------

def _type(prop: dict[str, Any]) -> str:
    """A JSON Schema property in words a reader of YAML uses."""
    if "anyOf" in prop:
        kinds = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds)
    if "$ref" in prop:
        return "mapping (below)"
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    limits = []
    for key, word in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                      ("minimum", "from {}"), ("exclusiveMinimum", "above {}"), ("maximum", "up to {}"),
                      ("minItems", "at least {}"), ("minProperties", "at least {}")):
        if key in prop:
            limits.append("not empty" if prop[key] == 1 and key.startswith("min") else word.format(prop[key]))
    if "pattern" in prop:
        limits.append(f"matching `{prop['pattern']}`")
    if kind == "array":
        text = f"list of {_type(prop['items'])}"
    elif kind == "object":
        text = f"mapping of name to {_type(prop.get('additionalProperties') or {})}"
    else:
        text = {"string": "text", "integer": "integer", "boolean": "`true` \\| `false`"}.get(str(kind), str(kind))
    return text + (f" ({', '.join(limits)})" if limits else "")


def _cell(text: str) -> str:
    """Text for a markdown table cell: a `|` would end the cell, and outside code a `<...>` would be
    taken for html."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def _summary(model: type[BaseModel]) -> str:
    return " ".join(inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].split())


def _default(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "-"
    return f"`{json.dumps(value)}`"


def _fields_table(model: type[BaseModel], props: dict[str, Any], prefix: str) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name in model.model_fields:
        field = model.model_fields[name]
        key = field.alias or name
        rows.append(f"| `{prefix}{key}` | {_type(props[key])} | {_default(model, name)} | "
                    f"{_cell(field.description or '')} |")
    return rows


def manifest_reference() -> str:
    schema = manifest_schema()
    defs = schema["$defs"]
    parts: list[tuple[str, type[BaseModel], dict[str, Any], str]] = [
             ("The file", Manifest, schema["properties"], ""),
             ("Each secret: `secrets.<NAME>`", SecretSpec, defs["SecretSpec"]["properties"], ""),
             ("`secrets.<NAME>.generate`", GenerateSpec, defs["GenerateSpec"]["properties"], "generate."),
             ("`secrets.<NAME>.gateways.<STACK>[i]`", GatewayKeySpec, defs["GatewayKeySpec"]["properties"],
              "gateways.<STACK>[i]."),
             ("Each Worker: `workers.<KEY>`", WorkerSpec, defs["WorkerSpec"]["properties"], ""),
             ("`workers.<KEY>.wrangler`", WranglerSpec, defs["WranglerSpec"]["properties"], "wrangler.")]
    lines: list[str] = []
    for title, model, props, prefix in parts:
        lines += [f"**{title}.** {_cell(_summary(model))}", ""]
        lines += _fields_table(model, props, prefix) + [""]
    return "\n".join(lines).rstrip() + "\n"


def stack_settings_reference() -> str:
    props = StackSettings.model_json_schema(by_alias=True)["properties"]
    store = StoreSetting.model_json_schema()["properties"]
    by_alias = {(f.alias or n): n for n, f in StackSettings.model_fields.items()}
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in KNOWN_KEYS:
        if key == "values":
            rows.append(f"| `{NAMESPACE}:values` | mapping of name to encrypted text | - | {_cell(VALUES_DESCRIPTION)} |")
            continue
        name = by_alias[key]
        field = StackSettings.model_fields[name]
        kind = "mapping (below)" if key == "store" else _type(props[key])
        rows.append(f"| `{NAMESPACE}:{key}` | {kind} | {_default(StackSettings, name)} | {_cell(field.description or '')} |")
        if key == "store":
            for sub, sub_field in StoreSetting.model_fields.items():
                rows.append(f"| `{NAMESPACE}:store.{sub}` | {_type(store[sub])} | - | {_cell(sub_field.description or '')} |")
    return "\n".join(rows) + "\n"


# ---- commands ------------------------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub
                for child, child_help, grandchild in _subcommands(sub):
                    yield f"{name} {child}", child_help, grandchild


def command_reference() -> str:
    parser = build_parser()
    lines = ["| command | what it does |", "|---|---|"]
    commands = list(_subcommands(parser))
    lines += [f"| [`{name}`](#{name.replace(' ', '-')}) | {_cell(text)} |" for name, text, _ in commands]
    for name, _, sub in commands:
        sub.formatter_class = _fixed_width
        lines += ["", f"### {name}", "", "```text", sub.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _fixed_width(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=USAGE_WIDTH)


# ---- permissions ---------------------------------------------------------------------------

def permissions_reference() -> str:
    rows = ["| command | token permissions | token |", "|---|---|---|"]
    for command, permissions in COMMANDS.items():
        token = "the apply token" if permissions == APPLY else "read-only" if set(permissions) <= set(READ_ONLY) \
            else "custom"
        shown = f"`{command}`" if command.startswith("pulumi") else f"`python -m stacks {command}`"
        rows.append(f"| {shown} | {', '.join(permissions)} | {token} |")
    rows.append(f"| any of the above, on a stack with AI Gateway BYOK keys | also {', '.join(BYOK_APPLY)} for the "
                f"apply token, {', '.join(BYOK_READ)} for the read-only one | both |")
    return "\n".join(rows) + "\n"


# ---- the copy of a served version -----------------------------------------------------------

def copy_fields_table() -> str:
    """What a copy of a served version does with each field of the Workers API's Version."""
    from .resources.version_copies import COPY_FIELDS

    rows = ["| field of the served version | in the copy | why |", "|---|---|---|"]
    order = ("carried", "carried when safe", "left out once run", "changed", "replaced", "refused", "output only")
    for field, (treatment, why) in sorted(COPY_FIELDS.items(), key=lambda item: (order.index(item[1][0]), item[0])):
        cell = why.replace("|", "\\|")
        rows.append(f"| `{field}` | {treatment} | {cell} |")
    rows.append("| any other field | refused | named in the refusal: the plane does not know how to carry it |")
    return "\n".join(rows) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "manifest": manifest_reference,
    "stack-settings": stack_settings_reference,
    "commands": command_reference,
    "permissions": permissions_reference,
    "version-copy": copy_fields_table,
}


# ---- the pages -----------------------------------------------------------------------------

def pages(root: Path = ROOT) -> list[Path]:
    return sorted(p for pattern in PAGES for p in root.glob(pattern))


def regenerate(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise KeyError(f"unknown generated part '{name}' (known: {', '.join(GENERATED)})")
        return f"<!-- generated:{name} -->\n{GENERATED[name]()}<!-- /generated:{name} -->"

    return MARK.sub(fill, text)


def stale(root: Path = ROOT) -> list[str]:
    """The generated parts that differ from what the program makes now, as `page: part`."""
    out = []
    for page in pages(root):
        text = page.read_text()
        fresh = regenerate(text)
        if fresh != text:
            now = {m.group(1): m.group(2) for m in MARK.finditer(text)}
            out += [f"{page.relative_to(root)}: {m.group(1)}" for m in MARK.finditer(fresh)
                    if now.get(m.group(1)) != m.group(2)]
    return out


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        found = stale()
        for entry in found:
            print(f"{entry}: stale (run: python -m stacks.reference --write)")
        return 1 if found else 0
    if argv == ["--write"]:
        for page in pages():
            text = page.read_text()
            fresh = regenerate(text)
            if fresh != text:
                page.write_text(fresh)
                print(f"wrote {page.relative_to(ROOT)}")
        return 0
    print("usage: python -m stacks.reference --write | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
