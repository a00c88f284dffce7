"""Codemod: route a Worker's reads of its manifest secrets through the dual-shape accessor.

`env.NAME`, `this.env.NAME`, `c.env.NAME` and `const { NAME } = env` become
`await readSecret(env.NAME, "NAME")`, with the import added. Parsing is tree-sitter's TypeScript
grammar, not regular expressions. Sites that cannot be rewritten safely are listed, not touched:
a read in a function that is not async, at module scope, destructuring with defaults or rest, and
an `env` object handed to code outside the scanned files. A second run changes nothing.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

from ..core.errors import PlaneError, did_you_mean
from ..core.estate import MANIFEST_FILE, Estate
from ..core.naming import fallback_binding_name
from .worker_types import fallback_copies

ENV_OBJECT = re.compile(r"^(env|this\.env|[A-Za-z_$][\w$]*\.env)$")
FUNCTION_TYPES = {"function_declaration", "function_expression", "arrow_function", "method_definition",
                  "generator_function_declaration", "generator_function", "function"}
# Parents under which the rewritten expression needs no parentheses.
BARE_OK = {"variable_declarator", "arguments", "return_statement", "pair", "assignment_expression",
           "template_substitution", "array", "expression_statement", "parenthesized_expression"}


@dataclass
class Site:
    file: Path
    line: int
    name: str
    rewritten: bool
    reason: str = ""
    already: bool = False


@dataclass
class FileResult:
    path: Path
    before: str
    after: str
    sites: list[Site] = field(default_factory=list)


def _parser(path: Path) -> Parser:
    grammar = tree_sitter_typescript.language_tsx() if path.suffix == ".tsx" else tree_sitter_typescript.language_typescript()
    return Parser(Language(grammar))


def _text(node: Node, src: bytes) -> str:
    return src[node.start_byte:node.end_byte].decode("utf-8")


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        if current.type in ("public_field_definition", "class_static_block"):
            return current  # a field initializer runs at construction: never async
        current = current.parent
    return None


def _is_async(fn: Node) -> bool:
    return any(child.type == "async" for child in fn.children)


def _function_name(fn: Node, src: bytes) -> str:
    name = fn.child_by_field_name("name")
    if name is not None:
        return _text(name, src)
    if fn.parent is not None and fn.parent.type == "variable_declarator":
        target = fn.parent.child_by_field_name("name")
        if target is not None:
            return _text(target, src)
    return "<anonymous>"


def _inside_read_secret(node: Node, src: bytes) -> Node | None:
    """The `arguments` node of the readSecret(...) call `node` is the first argument of, if any."""
    parent = node.parent
    if parent is None or parent.type != "arguments" or parent.parent is None:
        return None
    callee = parent.parent.child_by_field_name("function")
    if callee is None or _text(callee, src) != "readSecret" or not parent.named_children \
            or parent.named_children[0] != node:
        return None
    return parent


def _read_call(expr: str, name: str, fallbacks: set[str]) -> str:
    """The accessor call for a read of binding `name`, passing its fallback copy when it has one."""
    obj = expr.rsplit(".", 1)[0]
    extra = f", {obj}.{fallback_binding_name(name)}" if name in fallbacks else ""
    return f'await readSecret({expr}, "{name}"{extra})'


def _why_not(node: Node, src: bytes) -> str:
    fn = _enclosing_function(node)
    if fn is None:
        return "module scope: read secrets inside a handler, per request"
    if fn.type in ("public_field_definition", "class_static_block"):
        return "class field initializer: move the read into an async method"
    if not _is_async(fn):
        return (f"inside non-async function `{_function_name(fn, src)}`: make it async (and await its callers), "
                "then re-run")
    return ""


def _walk(node: Node):  # type: ignore[no-untyped-def]
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _relative_import(file: Path, accessor: Path) -> str:
    rel = os.path.relpath(accessor.with_suffix(""), file.parent).replace(os.sep, "/")
    return rel if rel.startswith(".") else f"./{rel}"


def rewrite_source(path: Path, source: str, names: set[str], accessor: Path,
                   local_functions: set[str], fallbacks: set[str] | None = None) -> FileResult:
    src = source.encode("utf-8")
    tree = _parser(path).parse(src)
    fallbacks = fallbacks or set()
    edits: list[tuple[int, int, str]] = []
    result = FileResult(path, source, source)

    def site(node: Node, name: str, ok: bool, reason: str = "") -> None:
        result.sites.append(Site(path, node.start_point[0] + 1, name, ok, reason))

    for node in _walk(tree.root_node):
        if node.type == "member_expression":
            obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
            if obj is None or prop is None or _text(prop, src) not in names or not ENV_OBJECT.match(_text(obj, src)):
                continue
            parent = node.parent
            call_args = _inside_read_secret(node, src)
            if call_args is not None:
                name = _text(prop, src)
                if name in fallbacks and len(call_args.named_children) == 2:
                    # Already through the accessor, from before the copy existed: pass the copy too.
                    last = call_args.named_children[-1]
                    edits.append((last.end_byte, last.end_byte,
                                  f", {_text(obj, src)}.{fallback_binding_name(name)}"))
                result.sites.append(Site(path, node.start_point[0] + 1, name, True, already=True))
                continue
            if parent is None or parent.type == "unary_expression":
                continue  # a `typeof env.X` shape check reads no value
            if parent.type == "assignment_expression" and parent.child_by_field_name("left") == node:
                continue
            name = _text(prop, src)
            reason = _why_not(node, src)
            if reason:
                site(node, name, False, reason)
                continue
            call = _read_call(_text(node, src), name, fallbacks)
            edits.append((node.start_byte, node.end_byte, call if parent.type in BARE_OK else f"({call})"))
            site(node, name, True)
        elif node.type == "variable_declarator":
            pattern, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if pattern is None or value is None or pattern.type != "object_pattern" or not ENV_OBJECT.match(_text(value, src)):
                continue
            _destructuring(node, pattern, value, src, names, edits, site, fallbacks)
        elif node.type == "call_expression":
            callee = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if callee is None or args is None:
                continue
            callee_name = _text(callee, src).split(".")[-1]
            if callee_name in local_functions or callee_name == "withSecretMemo":
                continue
            for arg in args.named_children:
                if ENV_OBJECT.match(_text(arg, src)):
                    site(arg, "(env)", False, f"env object passed to `{_text(callee, src)}()`, outside the scanned "
                                              "files: its secret reads are not visible here; check it by hand")
    after = _apply(src, edits)
    if edits and "readSecret" not in _imported_names(tree.root_node, src):
        after = _add_import(after, _relative_import(path, accessor))
    result.after = after
    return result


def _destructuring(node: Node, pattern: Node, value: Node, src: bytes, names: set[str],
                   edits: list[tuple[int, int, str]], site: Callable[..., None], fallbacks: set[str]) -> None:
    secrets: list[tuple[str, str]] = []  # (secret binding, local name)
    kept: list[str] = []
    blocked = ""
    blocked_names: list[str] = []
    for prop in pattern.named_children:
        if prop.type == "shorthand_property_identifier_pattern":
            name = _text(prop, src)
            (secrets.append((name, name)) if name in names else kept.append(name))
        elif prop.type == "pair_pattern":
            key, target = prop.child_by_field_name("key"), prop.child_by_field_name("value")
            key_text = _text(key, src) if key is not None else ""
            if key_text in names and target is not None and target.type == "identifier":
                secrets.append((key_text, _text(target, src)))
            elif key_text in names:
                blocked = "destructuring with a default or nested pattern"
                blocked_names.append(key_text)
            else:
                kept.append(_text(prop, src))
        else:  # rest element or defaulted shorthand
            text = _text(prop, src)
            if prop.type == "object_assignment_pattern" and text.split("=")[0].strip() in names:
                blocked = "destructuring with a default value"
                blocked_names.append(text.split("=")[0].strip())
            elif prop.type == "rest_pattern":
                # Taking a secret out of the pattern would move it into the rest object.
                blocked = "destructuring with a rest element"
                kept.append(text)
            else:
                kept.append(text)
    if not secrets and not blocked_names:
        return
    declaration = node.parent
    if declaration is None or declaration.type not in ("lexical_declaration", "variable_declaration") \
            or len(declaration.named_children) != 1:
        for secret in [name for name, _ in secrets] + blocked_names:
            site(node, secret, False, "destructuring among several declarators: split the declaration")
        return
    reason = blocked or _why_not(node, src)
    if reason:
        for secret in [name for name, _ in secrets] + blocked_names:
            site(node, secret, False, reason)
        return
    kind = _text(declaration.children[0], src)
    env_text = _text(value, src)
    indent = _indent(src, declaration.start_byte)
    statements = []
    if kept:
        statements.append(f"{kind} {{ {', '.join(kept)} }} = {env_text};")
    for secret, local in secrets:
        statements.append(f"{kind} {local} = {_read_call(f'{env_text}.{secret}', secret, fallbacks)};")
        site(node, secret, True)
    edits.append((declaration.start_byte, declaration.end_byte, ("\n" + indent).join(statements)))


def _indent(src: bytes, offset: int) -> str:
    line_start = src.rfind(b"\n", 0, offset) + 1
    prefix = src[line_start:offset].decode("utf-8")
    return prefix if prefix.strip() == "" else ""


def _apply(src: bytes, edits: list[tuple[int, int, str]]) -> str:
    out = src
    for start, end, text in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + text.encode("utf-8") + out[end:]
    return out.decode("utf-8")


def _imported_names(root: Node, src: bytes) -> set[str]:
    names: set[str] = set()
    for node in root.named_children:
        if node.type == "import_statement":
            names.update(re.findall(r"[A-Za-z_$][\w$]*", _text(node, src)))
    return names


def _add_import(source: str, specifier: str) -> str:
    line = f'import {{ readSecret }} from "{specifier}";\n'
    lines = source.splitlines(keepends=True)
    last_import = max((i for i, text in enumerate(lines) if text.startswith("import ")), default=-1)
    if last_import < 0:
        return line + source
    # An import can span lines: insert after the line that closes it.
    i = last_import
    while i < len(lines) and not lines[i].rstrip().endswith(";"):
        i += 1
    return "".join(lines[: i + 1]) + line + "".join(lines[i + 1:])


def collect_files(paths: list[Path], accessor: Path) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += [f for f in sorted(p.rglob("*.ts*")) if "node_modules" not in f.parts]
        elif p.exists():
            files.append(p)
        else:
            raise PlaneError.at(str(p), "", "no such file or folder", "pass the Worker's source files or folder")
    return [f for f in files if f.suffix in (".ts", ".tsx") and not f.name.endswith(".d.ts")
            and f.resolve() != accessor.resolve()]


def local_function_names(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for f in files:
        src = f.read_bytes()
        for node in _walk(_parser(f).parse(src).root_node):
            if node.type in ("function_declaration", "method_definition"):
                name = node.child_by_field_name("name")
                if name is not None:
                    names.add(_text(name, src))
            elif node.type == "variable_declarator":
                value, name = node.child_by_field_name("value"), node.child_by_field_name("name")
                if value is not None and name is not None and value.type in ("arrow_function", "function_expression", "function"):
                    names.add(_text(name, src))
    return names


def run_codemod(estate: Estate, paths: list[Path], worker: str, accessor: Path, write: bool) -> int:
    spec = estate.manifest.manifest.workers.get(worker)
    if spec is None:
        raise PlaneError.at(MANIFEST_FILE, f"workers.{worker}", f"no Worker '{worker}' in the manifest",
                            did_you_mean(worker, estate.manifest.manifest.workers) or "check the name")
    names = set(spec.binding_map())
    fallbacks = fallback_copies(estate, worker)
    files = collect_files(paths, accessor)
    local = local_function_names(files)
    results = [rewrite_source(f, f.read_text(), names, accessor, local, fallbacks) for f in files]
    sites = [s for r in results for s in r.sites]
    secret_sites = [s for s in sites if s.name != "(env)"]
    already = sum(1 for s in secret_sites if s.already)
    done = sum(1 for s in secret_sites if s.rewritten and not s.already)
    left = [s for s in sites if not s.rewritten]
    changed = [r for r in results if r.after != r.before]
    if write:
        for r in changed:
            r.path.write_text(r.after)
        out = sys.stdout
    else:
        for r in changed:
            sys.stdout.write("".join(difflib.unified_diff(r.before.splitlines(keepends=True), r.after.splitlines(keepends=True),
                                                          fromfile=f"a/{r.path}", tofile=f"b/{r.path}")))
        out = sys.stderr
    routed = done + already
    share = f" ({100 * routed // len(secret_sites)}% through the accessor)" if secret_sites else ""
    print(f"codemod worker {worker}: {len(secret_sites)} secret reads found, {done} rewritten now, {already} already "
          f"through the accessor{share}; {len(left)} site(s) left for a person; {len(changed)} file(s) "
          f"{'changed' if write else 'would change'}", file=out)
    for s in left:
        print(f"  {s.file}:{s.line}: {s.name}: {s.reason}", file=out)
    return 0
