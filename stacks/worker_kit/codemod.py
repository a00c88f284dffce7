"""Codemod: route a Worker's reads of its manifest secrets through the dual-shape accessor.

Every read of a managed binding name is found, in whatever form the code spells it: a member
(`env.NAME`, `this.env.NAME`, `c.env.NAME`), an element access with a literal key
(`env["NAME"]`), through a cast or a non-null assertion (`(env as any).NAME`, `(<Env>env).NAME`,
`env!.NAME`), a destructuring of the env object, optional chaining (`env?.NAME`), and any of those
on a parameter or variable of another name typed as the Env (`(e: Env) => e.NAME`). Each becomes
`await readSecret(<the read>, "NAME"[, <its fallback copy>])`, with the import added, where that
keeps the code's meaning; every other one is listed for a person with file:line:col and why (a
function that is not async, module scope, a class field, a destructuring with defaults or rest or
in a parameter list, optional chaining, an `env` handed to code outside the scanned files).
Parsing is tree-sitter's TypeScript grammar, not regular expressions. A second run changes nothing
and says so; `--check` fails while anything is left or would change (for CI).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

from ..core.errors import PlaneError, did_you_mean
from ..core.estate import MANIFEST_FILE, Estate
from ..core.naming import fallback_binding_name
from ..files import write_text
from .worker_types import fallback_copies

ENV_OBJECT = re.compile(r"^(env|this\.env|[A-Za-z_$][\w$]*\.env)$")
ENV_TYPE = "Env"  # the conventional name of a Worker's bindings interface
FUNCTION_TYPES = {"function_declaration", "function_expression", "arrow_function", "method_definition",
                  "generator_function_declaration", "generator_function", "function"}
WRAPPERS = {"parenthesized_expression", "as_expression", "satisfies_expression", "type_assertion",
            "non_null_expression"}
# Parents under which the rewritten expression needs no parentheses.
BARE_OK = {"variable_declarator", "arguments", "return_statement", "pair", "assignment_expression",
           "template_substitution", "array", "expression_statement", "parenthesized_expression"}
DYNAMIC = "(dynamic)"
HANDED_OFF = "(env)"


@dataclass
class Site:
    file: Path
    line: int
    name: str
    rewritten: bool
    reason: str = ""
    already: bool = False
    column: int = 1
    fallback_added: bool = False  # an earlier accessor call given its fallback copy now

    @property
    def secret_read(self) -> bool:
        """A read of a named binding (what the coverage counts), not an env object handed off
        or a key computed at run time."""
        return self.name not in (DYNAMIC, HANDED_OFF)

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


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


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


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


def _typed_as_env(annotation: Node | None, src: bytes, env_types: set[str]) -> bool:
    """`: Env`, `: Readonly<Env>`, `: Env & Extra`: the annotation names an env type."""
    if annotation is None:
        return False
    return any(n.type == "type_identifier" and _text(n, src) in env_types for n in _walk(annotation))


def _env_names(node: Node, src: bytes, env_types: set[str]) -> set[str]:
    """Identifiers that hold the env object where `node` is: parameters and variables typed as an
    env type, in every function around it, and at the top of the file."""
    names: set[str] = set()
    scope = node.parent
    while scope is not None:
        params = scope.child_by_field_name("parameters") if scope.type in FUNCTION_TYPES else None
        for param in params.named_children if params is not None else []:
            pattern, annotation = param.child_by_field_name("pattern"), param.child_by_field_name("type")
            if pattern is not None and pattern.type == "identifier" and _typed_as_env(annotation, src, env_types):
                names.add(_text(pattern, src))
        body = scope.child_by_field_name("body") if scope.type in FUNCTION_TYPES else scope if scope.type == "program" else None
        for child in body.named_children if body is not None else []:
            if child.type in ("lexical_declaration", "variable_declaration"):
                for decl in child.named_children:
                    target, annotation = decl.child_by_field_name("name"), decl.child_by_field_name("type")
                    if target is not None and target.type == "identifier" and _typed_as_env(annotation, src, env_types):
                        names.add(_text(target, src))
        scope = scope.parent
    return names


def _unwrapped(node: Node) -> Node:
    """The expression inside parentheses, casts and non-null assertions."""
    while node.type in WRAPPERS:
        inner = next((c for c in node.named_children if c.type not in ("type_annotation", "predefined_type",
                                                                       "type_identifier", "generic_type")), None)
        if node.type == "type_assertion":
            inner = node.named_children[-1] if node.named_children else None
        if inner is None:
            break
        node = inner
    return node


def _is_env(node: Node, src: bytes, env_types: set[str]) -> bool:
    inner = _unwrapped(node)
    text = _text(inner, src)
    if ENV_OBJECT.match(text):
        return True
    return inner.type == "identifier" and text in _env_names(inner, src, env_types)


def _literal_key(index: Node | None, src: bytes) -> str | None:
    """The key of `env["NAME"]` or env[`NAME`] (no substitution), else None."""
    if index is None or index.type not in ("string", "template_string"):
        return None
    if any(c.type == "template_substitution" for c in index.children):
        return None
    return "".join(_text(c, src) for c in index.children if c.type == "string_fragment")


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


def _relative_import(file: Path, accessor: Path) -> str:
    rel = os.path.relpath(accessor.with_suffix(""), file.parent).replace(os.sep, "/")
    return rel if rel.startswith(".") else f"./{rel}"


def declared_env_types(files: list[Path], names: set[str]) -> set[str]:
    """`Env`, and every interface or object type alias in the files that declares one of the
    Worker's binding names (the Worker's own name for its env, whatever it is)."""
    found = {ENV_TYPE}
    for f in files:
        src = f.read_bytes()
        for node in _walk(_parser(f).parse(src).root_node):
            if node.type not in ("interface_declaration", "type_alias_declaration"):
                continue
            name = node.child_by_field_name("name")
            members = {_text(p.child_by_field_name("name"), src) for p in _walk(node)  # type: ignore[arg-type]
                       if p.type == "property_signature" and p.child_by_field_name("name") is not None}
            if name is not None and members & names:
                found.add(_text(name, src))
    return found


class _Rewrite:
    """One file: what to edit, and every site found."""

    def __init__(self, path: Path, source: str, names: set[str], fallbacks: set[str], env_types: set[str],
                 local_functions: set[str]):
        self.path, self.names, self.fallbacks, self.env_types = path, names, fallbacks, env_types
        self.local_functions = local_functions
        self.src = source.encode("utf-8")
        self.tree = _parser(path).parse(self.src)
        self.edits: list[tuple[int, int, str]] = []
        self.sites: list[Site] = []

    def site(self, node: Node, name: str, ok: bool, reason: str = "", **extra: bool) -> None:
        self.sites.append(Site(self.path, node.start_point[0] + 1, name, ok, reason,
                               column=node.start_point[1] + 1, **extra))

    def call(self, read: str, env_text: str, name: str) -> str:
        """The accessor call for a read of binding `name`, passing its fallback copy when it has one."""
        extra = f", {env_text}.{fallback_binding_name(name)}" if name in self.fallbacks else ""
        return f'await readSecret({read}, "{name}"{extra})'

    def run(self) -> None:
        for node in _walk(self.tree.root_node):
            if node.type == "member_expression":
                self.member(node)
            elif node.type == "subscript_expression":
                self.subscript(node)
            elif node.type == "variable_declarator":
                self.declarator(node)
            elif node.type in ("required_parameter", "optional_parameter"):
                self.parameter(node)
            elif node.type == "call_expression":
                self.handoff(node)

    def read(self, node: Node, obj: Node, name: str) -> None:
        """A read of binding `name` from env object `obj` (the whole expression is `node`)."""
        src = self.src
        call_args = _inside_read_secret(node, src)
        env_text = _text(_unwrapped(obj), src)  # the fallback copy is read from the env itself, uncast
        if call_args is not None:
            added = False
            if name in self.fallbacks and len(call_args.named_children) == 2:
                # Already through the accessor, from before the copy existed: pass the copy too.
                last = call_args.named_children[-1]
                self.edits.append((last.end_byte, last.end_byte, f", {env_text}.{fallback_binding_name(name)}"))
                added = True
            self.site(node, name, True, already=True, fallback_added=added)
            return
        parent = node.parent
        if parent is None or parent.type == "unary_expression":
            return  # a `typeof env.X` shape check reads no value
        if parent.type == "assignment_expression" and parent.child_by_field_name("left") == node:
            return
        if node.child_by_field_name("optional_chain") is not None or any(c.type == "optional_chain"
                                                                          for c in node.children):
            self.site(node, name, False, "optional chaining (`?.`): the accessor throws when the binding is absent; "
                                         "decide what a missing secret means here, then route it by hand")
            return
        reason = _why_not(node, src)
        if reason:
            self.site(node, name, False, reason)
            return
        call = self.call(_text(node, src), env_text, name)
        self.edits.append((node.start_byte, node.end_byte, call if parent.type in BARE_OK else f"({call})"))
        self.site(node, name, True)

    def member(self, node: Node) -> None:
        obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        if obj is None or prop is None or _text(prop, self.src) not in self.names:
            return
        if _is_env(obj, self.src, self.env_types):
            self.read(node, obj, _text(prop, self.src))

    def subscript(self, node: Node) -> None:
        obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
        if obj is None or not _is_env(obj, self.src, self.env_types):
            return
        key = _literal_key(index, self.src)
        if key is None:
            if index is not None and index.type not in ("number",):
                self.site(node, DYNAMIC, False, f"a key computed at run time (`{_text(node, self.src)}`) may read a "
                                                "secret: route it through readSecret by hand")
            return
        if key in self.names:
            self.read(node, obj, key)

    def declarator(self, node: Node) -> None:
        pattern, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if pattern is None or value is None or pattern.type != "object_pattern" or \
                not _is_env(value, self.src, self.env_types):
            return
        self.destructuring(node, pattern, value)

    def parameter(self, node: Node) -> None:
        pattern, annotation = node.child_by_field_name("pattern"), node.child_by_field_name("type")
        if pattern is None or pattern.type != "object_pattern" or not _typed_as_env(annotation, self.src,
                                                                                    self.env_types):
            return
        fn = _enclosing_function(node)
        where = f"`{_function_name(fn, self.src)}`" if fn is not None else "a function"
        for name in self._pattern_names(pattern):
            self.site(node, name, False, f"destructured in the parameters of {where}: take `env` whole and "
                                         "destructure it in the body, then re-run")

    def _pattern_names(self, pattern: Node) -> list[str]:
        out = []
        for prop in pattern.named_children:
            key = prop.child_by_field_name("key") if prop.type == "pair_pattern" else \
                prop.child_by_field_name("left") if prop.type == "object_assignment_pattern" else prop
            text = _text(key, self.src) if key is not None else ""
            if text in self.names:
                out.append(text)
        return out

    def destructuring(self, node: Node, pattern: Node, value: Node) -> None:
        src = self.src
        secrets: list[tuple[str, str]] = []  # (secret binding, local name)
        kept: list[str] = []
        blocked = ""
        blocked_names: list[str] = []
        for prop in pattern.named_children:
            if prop.type == "shorthand_property_identifier_pattern":
                name = _text(prop, src)
                (secrets.append((name, name)) if name in self.names else kept.append(name))
            elif prop.type == "pair_pattern":
                key, target = prop.child_by_field_name("key"), prop.child_by_field_name("value")
                key_text = _literal_key(key, src) or (_text(key, src) if key is not None else "")
                if key_text in self.names and target is not None and target.type == "identifier":
                    secrets.append((key_text, _text(target, src)))
                elif key_text in self.names:
                    blocked = "destructuring with a default or nested pattern"
                    blocked_names.append(key_text)
                else:
                    kept.append(_text(prop, src))
            else:  # rest element or defaulted shorthand
                text = _text(prop, src)
                if prop.type == "object_assignment_pattern" and text.split("=")[0].strip() in self.names:
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
        everything = [name for name, _ in secrets] + blocked_names
        if declaration is None or declaration.type not in ("lexical_declaration", "variable_declaration") \
                or len(declaration.named_children) != 1:
            for secret in everything:
                self.site(node, secret, False, "destructuring among several declarators: split the declaration")
            return
        reason = blocked or _why_not(node, src)
        if reason:
            for secret in everything:
                self.site(node, secret, False, reason)
            return
        kind = _text(declaration.children[0], src)
        env_text = _text(_unwrapped(value), src)
        indent = _indent(src, declaration.start_byte)
        statements = []
        if kept:
            statements.append(f"{kind} {{ {', '.join(kept)} }} = {_text(value, src)};")
        for secret, local in secrets:
            statements.append(f"{kind} {local} = {self.call(f'{env_text}.{secret}', env_text, secret)};")
            self.site(node, secret, True)
        self.edits.append((declaration.start_byte, declaration.end_byte, ("\n" + indent).join(statements)))

    def handoff(self, node: Node) -> None:
        callee, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if callee is None or args is None:
            return
        callee_name = _text(callee, self.src).split(".")[-1]
        if callee_name in self.local_functions or callee_name in ("withSecretMemo", "readSecret"):
            return
        for arg in args.named_children:
            if _is_env(arg, self.src, self.env_types):
                self.site(arg, HANDED_OFF, False, f"env object passed to `{_text(callee, self.src)}()`, outside the "
                                                  "scanned files: its secret reads are not visible here; check it by hand")


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


_IMPORT_END = re.compile(r"""(;|[\"'])\s*$""")


def _add_import(source: str, specifier: str) -> str:
    line = f'import {{ readSecret }} from "{specifier}";\n'
    lines = source.splitlines(keepends=True)
    last_import = max((i for i, text in enumerate(lines) if text.startswith("import ")), default=-1)
    if last_import < 0:
        return line + source
    # An import can span lines: insert after the line that closes it, with or without a semicolon
    # (`} from "./x";`, `} from './x'`, `import "./x"`).
    i = last_import
    while i < len(lines) and not _IMPORT_END.search(lines[i]):
        i += 1
    return "".join(lines[: i + 1]) + line + "".join(lines[i + 1:])


def rewrite_source(path: Path, source: str, names: set[str], accessor: Path, local_functions: set[str],
                   fallbacks: set[str] | None = None, env_types: set[str] | None = None) -> FileResult:
    job = _Rewrite(path, source, names, fallbacks or set(), env_types or {ENV_TYPE}, local_functions)
    job.run()
    result = FileResult(path, source, source, sorted(job.sites, key=lambda s: (s.line, s.column)))
    after = _apply(job.src, job.edits)
    if any(not s.already for s in job.sites if s.rewritten) and "readSecret" not in _imported_names(job.tree.root_node, job.src):
        after = _add_import(after, _relative_import(path, accessor))
    result.after = after
    return result


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


@dataclass
class CodemodReport:
    """What a run found and did, counted the one way every output uses."""

    worker: str
    results: list[FileResult]

    @property
    def sites(self) -> list[Site]:
        return [s for r in self.results for s in r.sites]

    @property
    def reads(self) -> list[Site]:
        return [s for s in self.sites if s.secret_read]

    @property
    def rewritten(self) -> int:
        return sum(1 for s in self.reads if s.rewritten and not s.already)

    @property
    def already(self) -> int:
        return sum(1 for s in self.reads if s.already)

    @property
    def fallbacks_added(self) -> int:
        return sum(1 for s in self.reads if s.fallback_added)

    @property
    def left(self) -> list[Site]:
        return [s for s in self.sites if not s.rewritten]

    @property
    def changed(self) -> list[FileResult]:
        return [r for r in self.results if r.after != r.before]

    def summary(self, write: bool) -> str:
        reads = len(self.reads)
        if not self.changed and not self.left:
            return (f"codemod worker {self.worker}: nothing to change: {reads} secret read(s), every one through the "
                    "accessor (100%)")
        routed = self.rewritten + self.already
        share = f" ({100 * routed // reads}% through the accessor)" if reads else ""
        return (f"codemod worker {self.worker}: {reads} secret read(s) found, {self.rewritten} rewritten now, "
                f"{self.already} already through the accessor{share}, {self.fallbacks_added} fallback argument(s) "
                f"added; {len(self.left)} site(s) left for a person; {len(self.changed)} file(s) "
                f"{'changed' if write else 'would change'}")


def run_codemod(estate: Estate, paths: list[Path], worker: str, accessor: Path, write: bool,
                check: bool = False) -> int:
    spec = estate.manifest.manifest.workers.get(worker)
    if spec is None:
        raise PlaneError.at(MANIFEST_FILE, f"workers.{worker}", f"no Worker '{worker}' in the manifest",
                            did_you_mean(worker, estate.manifest.manifest.workers) or "check the name")
    names = set(spec.binding_map())
    fallbacks = fallback_copies(estate, worker)
    files = collect_files(paths, accessor)
    local = local_function_names(files)
    env_types = declared_env_types(files, names)
    report = CodemodReport(worker, [rewrite_source(f, f.read_text(), names, accessor, local, fallbacks, env_types)
                                    for f in files])
    if write:
        for r in report.changed:
            write_text(r.path, r.after)  # never through a link (files.py)
        out = sys.stdout
    else:
        for r in report.changed:
            sys.stdout.write("".join(difflib.unified_diff(r.before.splitlines(keepends=True), r.after.splitlines(keepends=True),
                                                          fromfile=f"a/{r.path}", tofile=f"b/{r.path}")))
        out = sys.stderr
    print(report.summary(write), file=out)
    for s in report.left:
        print(f"  {s.where()}: {s.name}: {s.reason}", file=out)
    if check and (report.left or (report.changed and not write)):
        return 1
    return 0
