"""Codemod: route a Worker's reads of its manifest secrets through the dual-shape accessor.

Which object is the Worker's env (the one rule, `_Scopes.kind`): an identifier that holds it where
it is read, or `this.env` (a Durable Object, a `WorkerEntrypoint`, an agent), `this.ctx.env`, or
`<context>.env` on a request context. An identifier holds the env when it is
- a parameter or variable typed as an env type (`Env`, or any interface or object type in the
  scanned files that declares one of the Worker's binding names), whatever its name;
- the env parameter of a handler (the second parameter of `fetch`, `scheduled`, `queue`, `email`,
  `tail`, `trace` or `test` in an object: `export default { async fetch(request, e) {} }`);
- a parameter of a function in the scanned files that is handed the env (`helper(request, env)`
  makes `helper`'s second parameter the env, however it is named, through any depth of helpers);
- a variable initialized from the env (`const e = c.env`), `import { env } from "cloudflare:workers"`;
- named `env` (a route callback's `(request, env) =>`, `({ env }) =>`), unless the nearest
  declaration of it says otherwise (`const env = process.env`, `import { env } from "./config"`).
A request context is a parameter named `c` or `context` (Hono, Pages Functions, Remix), or one
typed as `Context`, `EventContext` or `AppLoadContext`. Nothing else matches: never `process.env`,
never `<any object>.env`.

Every read of a managed binding name from it is found, in whatever form the code spells it: a
member (`env.NAME`), an element access with a literal key (`env["NAME"]`), through a cast or a
non-null assertion (`(env as any).NAME`, `(<Env>env).NAME`, `env!.NAME`), a destructuring of the
env object, optional chaining (`env?.NAME`). Each becomes `await readSecret(<the read>, "NAME"[,
<its fallback copy>])`, with the import added, where that keeps the code's meaning. A store read
(`env.NAME.get()`, the Secrets Store binding's own call) becomes `readSecret(env.NAME, "NAME")`,
the call replaced whole: the accessor calls `.get()` on a store binding itself and returns the
same promise of a string, so no `await` is added or taken away and the function need not be
async. Every other read is listed for a person with file:line:col and why (a function that is not
async, module scope, a class field, a destructuring with defaults or rest or in a parameter list,
optional chaining, `.get` not called or called with arguments, an env handed to code outside the
scanned files, a default when the binding is absent: `env.NAME || "x"`). A presence or shape check
(`!env.NAME`, `typeof env.NAME`, `if (env.A && env.B)`) reads no value and is kept: it holds for
both shapes.

Files: `.ts`, `.tsx`, `.js`, `.mjs` and `.jsx` (not `.d.ts`, not `node_modules`, not the accessor),
parsed by tree-sitter's TypeScript grammar (`.ts`) or its TSX grammar (`.tsx`, and JavaScript,
which may hold JSX and never holds a type assertion). The import added is the same in both
languages, `import { readSecret } from "<accessor>";`, valid JavaScript. A file tree-sitter cannot
parse is never edited; it is listed, and its reads are not counted as routed. The accessor file
must exist before an import of it is written. A second run changes nothing and says so; `--check`
fails while anything is left, unparsed or would change (for CI).
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
from tree_sitter import Language, Node, Parser, Tree

from ..core.errors import PlaneError, did_you_mean
from ..core.estate import MANIFEST_FILE, Estate
from ..core.naming import fallback_binding_name
from ..core.text import ts_string
from ..files import write_text
from .worker_types import fallback_copies

ENV_TYPE = "Env"  # the conventional name of a Worker's bindings interface
ENV_NAME = "env"  # the conventional name of the env parameter
CONTEXT_NAMES = {"c", "context"}  # Hono's `c`; Pages Functions' and Remix's `context`
CONTEXT_TYPES = {"Context", "EventContext", "AppLoadContext"}
# Methods of a Worker's handler object whose second parameter is the env (ExportedHandler).
HANDLER_METHODS = {"fetch", "scheduled", "queue", "email", "tail", "trace", "test"}
RUNTIME_MODULE = "cloudflare:workers"  # `import { env } from "cloudflare:workers"`
SUFFIXES = {".ts", ".tsx", ".js", ".mjs", ".jsx"}
TSX_SUFFIXES = {".tsx", ".jsx", ".js", ".mjs"}  # JavaScript may hold JSX, never a `<T>x` assertion
ACCESSOR_KIT = Path(__file__).resolve().parents[2] / "worker-kit" / "secrets.ts"
FUNCTION_TYPES = {"function_declaration", "function_expression", "arrow_function", "method_definition",
                  "generator_function_declaration", "generator_function", "function"}
WRAPPERS = {"parenthesized_expression", "as_expression", "satisfies_expression", "type_assertion",
            "non_null_expression"}
# Parents under which the rewritten expression needs no parentheses.
BARE_OK = {"variable_declarator", "arguments", "return_statement", "pair", "assignment_expression",
           "template_substitution", "array", "expression_statement", "parenthesized_expression"}
DYNAMIC = "(dynamic)"
HANDED_OFF = "(env)"

ENV, CONTEXT, OTHER = "env", "context", "other"


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
    store: bool = False  # a store read, `env.NAME.get()`, rewritten to the accessor with the call replaced

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
    parse_error: str = ""  # "line:col" of the first place tree-sitter could not parse; then nothing is edited
    imports_accessor: bool = False  # this run adds the accessor's import


def _parser(path: Path) -> Parser:
    grammar = tree_sitter_typescript.language_tsx() if path.suffix in TSX_SUFFIXES \
        else tree_sitter_typescript.language_typescript()
    return Parser(Language(grammar))


def _parse(path: Path, src: bytes) -> Tree:
    return _parser(path).parse(src)


def _text(node: Node, src: bytes) -> str:
    return src[node.start_byte:node.end_byte].decode("utf-8")


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _first_error(root: Node) -> Node | None:
    if not root.has_error:
        return None
    return next((n for n in _walk(root) if n.is_error or n.is_missing), root)


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
    if fn.parent is not None and fn.parent.type in ("variable_declarator", "pair"):
        target = fn.parent.child_by_field_name("name" if fn.parent.type == "variable_declarator" else "key")
        if target is not None:
            return _text(target, src)
    return "<anonymous>"


def _handed_key(fn: Node, src: bytes) -> str:
    """The name a call hands arguments to: a function's own, or a constructor's class (`new Client(env)`)."""
    name = _function_name(fn, src)
    if fn.type == "method_definition" and name == "constructor":
        holder = fn.parent.parent if fn.parent is not None else None  # class_body -> class
        label = holder.child_by_field_name("name") if holder is not None else None
        return _text(label, src) if label is not None else name
    return name


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


def _typed_as(annotation: Node | None, src: bytes, types: set[str]) -> bool:
    """`: Env`, `: Readonly<Env>`, `: Env & Extra`, `: Context<App>`: the annotation names one of `types`."""
    if annotation is None:
        return False
    return any(n.type == "type_identifier" and _text(n, src) in types for n in _walk(annotation))


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


def _is_handler_method(fn: Node, src: bytes) -> bool:
    """A method of a handler object (`{ async fetch(request, env) {} }`, `{ fetch: async (r, env) => ... }`),
    not of a class (a class's handlers read `this.env`)."""
    if fn.type == "method_definition":
        holder, name = fn.parent, fn.child_by_field_name("name")
    elif fn.parent is not None and fn.parent.type == "pair":
        holder, name = fn.parent.parent, fn.parent.child_by_field_name("key")
    else:
        return False
    return holder is not None and holder.type == "object" and name is not None \
        and _text(name, src) in HANDLER_METHODS


def _param_parts(param: Node) -> tuple[Node | None, Node | None]:
    """(pattern, type annotation) of a parameter; an untyped JavaScript parameter is its identifier."""
    if param.type in ("required_parameter", "optional_parameter"):
        return param.child_by_field_name("pattern"), param.child_by_field_name("type")
    if param.type == "assignment_pattern":
        return param.child_by_field_name("left"), None
    return param, None


class _Scopes:
    """Which names hold the env or a request context where an identifier is: the rule of the
    module docstring, in one place. `handed` holds, per local function name, the positions of the
    parameters that some call in the scanned files hands the env."""

    def __init__(self, src: bytes, env_types: set[str], handed: dict[str, set[int]]):
        self.src, self.env_types, self.handed = src, env_types, handed

    def is_env(self, node: Node, depth: int = 0) -> bool:
        if depth > 8:  # `const a = b, b = a`: no env at the end of it
            return False
        inner = _unwrapped(node)
        if inner.type == "identifier":
            return self.kind(inner, depth) == ENV
        if inner.type != "member_expression":
            return False
        obj, prop = inner.child_by_field_name("object"), inner.child_by_field_name("property")
        if obj is None or prop is None or _text(prop, self.src) != "env" or _is_optional(inner):
            return False
        obj = _unwrapped(obj)
        text = _text(obj, self.src)
        if text in ("this", "this.ctx"):
            return True
        return obj.type == "identifier" and self.kind(obj, depth) == CONTEXT

    def kind(self, ident: Node, depth: int = 0) -> str:
        """ENV, CONTEXT or OTHER for an identifier, by its nearest declaration."""
        name = _text(ident, self.src)
        scope = ident.parent
        while scope is not None:
            found = self._declared(scope, name, ident, depth)
            if found is not None:
                return found
            scope = scope.parent
        return ENV if name == ENV_NAME else OTHER  # undeclared here: the convention

    def _declared(self, scope: Node, name: str, at: Node, depth: int) -> str | None:
        src = self.src
        if scope.type in FUNCTION_TYPES:
            params = scope.child_by_field_name("parameters")
            plist = params.named_children if params is not None else []
            single = scope.child_by_field_name("parameter")  # `env => env.X`
            if single is not None:
                plist = [single]
            for index, param in enumerate(plist):
                pattern, annotation = _param_parts(param)
                if pattern is None:
                    continue
                if pattern.type == "identifier" and _text(pattern, src) == name:
                    if _typed_as(annotation, src, self.env_types) or name == ENV_NAME \
                            or (index == 1 and _is_handler_method(scope, src)) \
                            or index in self.handed.get(_handed_key(scope, src), set()):
                        return ENV
                    if name in CONTEXT_NAMES or _typed_as(annotation, src, CONTEXT_TYPES):
                        return CONTEXT
                    return OTHER
                if pattern.type == "object_pattern":
                    for prop in pattern.named_children:
                        if prop.type == "shorthand_property_identifier_pattern" and _text(prop, src) == name:
                            return ENV if name == ENV_NAME else CONTEXT if name in CONTEXT_NAMES else OTHER
        body = scope if scope.type in ("program", "statement_block") else None
        for child in body.named_children if body is not None else []:
            if child.type in ("lexical_declaration", "variable_declaration"):
                for decl in child.named_children:
                    target = decl.child_by_field_name("name")
                    if target is None or target.type != "identifier" or _text(target, src) != name:
                        continue
                    value = decl.child_by_field_name("value")
                    if _typed_as(decl.child_by_field_name("type"), src, self.env_types):
                        return ENV
                    if value is not None:
                        return ENV if value != at and self.is_env(value, depth + 1) else OTHER
                    return ENV if name == ENV_NAME else OTHER
            elif child.type == "import_statement":
                names = {_text(n, src) for n in _walk(child) if n.type == "identifier"}
                if name in names:
                    module = child.child_by_field_name("source")
                    from_runtime = module is not None and _text(module, src).strip("\"'") == RUNTIME_MODULE
                    return ENV if from_runtime and name == ENV_NAME else OTHER
        return None


def _is_optional(node: Node) -> bool:
    return node.child_by_field_name("optional_chain") is not None or any(c.type == "optional_chain"
                                                                          for c in node.children)


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


def _store_get(node: Node, src: bytes) -> tuple[Node, Node | None] | None:
    """For a read whose binding's `.get` is taken (`env.NAME.get`): that member, and the call of it
    when it is called (`env.NAME.get()`)."""
    member = node.parent
    if member is None or member.type != "member_expression" or member.child_by_field_name("object") != node:
        return None
    prop = member.child_by_field_name("property")
    if prop is None or _text(prop, src) != "get":
        return None
    call = member.parent
    if call is not None and call.type == "call_expression" and call.child_by_field_name("function") == member:
        return member, call
    return member, None


def _presence_test(node: Node) -> bool:
    """Whether the read's value is only tested for presence: the condition of an `if`, a loop or a
    `?:`, or an operand of `&&` / `||` chains that are themselves such a condition (`if (env.A &&
    env.B)`). Both shapes give the same answer (a store binding is an object, truthy when bound),
    and the accessor, which throws on an absent binding, would turn a test into a failure."""
    current = node
    while current.parent is not None:
        parent = current.parent
        if parent.type == "parenthesized_expression":
            current = parent
            continue
        if parent.type == "binary_expression":
            operator = parent.child_by_field_name("operator")
            if operator is not None and operator.type in ("&&", "||"):
                current = parent
                continue
            return False
        if parent.type in ("if_statement", "while_statement", "do_statement"):
            return parent.child_by_field_name("condition") == current
        if parent.type == "ternary_expression":
            return parent.child_by_field_name("condition") == current
        return parent.type == "unary_expression" and current != node  # `!(env.A && env.B)`
    return False


def _default_when_absent(node: Node) -> str:
    """`env.NAME || "x"`, `env.NAME ?? "x"`: the operator, when the read is the left operand whose
    value is used with a default (the accessor would throw where the code means the default)."""
    current = node
    while current.parent is not None and current.parent.type == "parenthesized_expression":
        current = current.parent
    parent = current.parent
    if parent is None or parent.type != "binary_expression" or parent.child_by_field_name("left") != current:
        return ""
    operator = parent.child_by_field_name("operator")
    return operator.type if operator is not None and operator.type in ("||", "??") else ""


def _relative_import(file: Path, accessor: Path) -> str:
    rel = os.path.relpath(accessor.with_suffix(""), file.parent).replace(os.sep, "/")
    return rel if rel.startswith(".") else f"./{rel}"


def declared_env_types(files: list[Path], names: set[str]) -> set[str]:
    """`Env`, and every interface or object type alias in the files that declares one of the
    Worker's binding names (the Worker's own name for its env, whatever it is)."""
    found = {ENV_TYPE}
    for f in files:
        src = f.read_bytes()
        for node in _walk(_parse(f, src).root_node):
            if node.type not in ("interface_declaration", "type_alias_declaration"):
                continue
            name = node.child_by_field_name("name")
            members = {_text(p.child_by_field_name("name"), src) for p in _walk(node)  # type: ignore[arg-type]
                       if p.type == "property_signature" and p.child_by_field_name("name") is not None}
            if name is not None and members & names:
                found.add(_text(name, src))
    return found


def handed_parameters(files: list[Path], env_types: set[str], local_functions: set[str]) -> dict[str, set[int]]:
    """Per function of the scanned files, the positions of its parameters that a call somewhere in
    them hands the env (`helper(request, env)`): those parameters hold the env too, and so do the
    parameters of the helpers they hand it on to (to a fixed point)."""
    parsed = [(src, _parse(f, src).root_node) for f in files for src in [f.read_bytes()]]
    classes = {_text(n.child_by_field_name("name"), src) for src, root in parsed for n in _walk(root)  # type: ignore[arg-type]
               if n.type in ("class_declaration", "class") and n.child_by_field_name("name") is not None}
    handed: dict[str, set[int]] = {}
    for _ in range(16):  # each pass follows the env one helper deeper
        grown = False
        for src, root in parsed:
            scopes = _Scopes(src, env_types, handed)
            for node in _walk(root):
                target = node.child_by_field_name("function" if node.type == "call_expression" else "constructor") \
                    if node.type in ("call_expression", "new_expression") else None
                args = node.child_by_field_name("arguments")
                name = _text(target, src).split(".")[-1] if target is not None else ""
                if args is None or name not in (local_functions if node.type == "call_expression" else classes):
                    continue
                for index, arg in enumerate(args.named_children):
                    if index not in handed.get(name, set()) and scopes.is_env(arg):
                        handed.setdefault(name, set()).add(index)
                        grown = True
        if not grown:
            break
    return handed


class _Rewrite:
    """One file: what to edit, and every site found."""

    def __init__(self, path: Path, source: str, names: set[str], fallbacks: set[str], env_types: set[str],
                 local_functions: set[str], handed: dict[str, set[int]] | None = None):
        self.path, self.names, self.fallbacks, self.env_types = path, names, fallbacks, env_types
        self.local_functions = local_functions
        self.src = source.encode("utf-8")
        self.tree = _parse(path, self.src)
        self.scopes = _Scopes(self.src, env_types, handed or {})
        self.edits: list[tuple[int, int, str]] = []
        self.sites: list[Site] = []

    def site(self, node: Node, name: str, ok: bool, reason: str = "", **extra: bool) -> None:
        self.sites.append(Site(self.path, node.start_point[0] + 1, name, ok, reason,
                               column=node.start_point[1] + 1, **extra))

    def is_env(self, node: Node) -> bool:
        return self.scopes.is_env(node)

    def call(self, read: str, env_text: str, name: str) -> str:
        """The accessor call for a read of binding `name`, passing its fallback copy when it has one
        (a promise of the string: the caller awaits it)."""
        extra = f", {env_text}.{fallback_binding_name(name)}" if name in self.fallbacks else ""
        return f"readSecret({read}, {ts_string(name)}{extra})"

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
            elif node.type == "spread_element" and node.named_children and self.is_env(node.named_children[0]):
                self.site(node, HANDED_OFF, False, "env spread into another object (`...env`): the secrets read "
                                                   "from that object are not visible here; route them by hand")

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
            return  # `typeof env.X`, `!env.X`: a shape or presence check, the same for both shapes
        if parent.type == "assignment_expression" and parent.child_by_field_name("left") == node:
            return
        if _presence_test(node):
            return
        default = _default_when_absent(node)
        if default:
            self.site(node, name, False, f"a default when the binding is absent (`{default}`): the accessor throws on an "
                                         "absent binding; decide what a missing secret means here, then route it by hand")
            return
        if _is_optional(node):
            self.site(node, name, False, "optional chaining (`?.`): the accessor throws when the binding is absent; "
                                         "decide what a missing secret means here, then route it by hand")
            return
        store = _store_get(node, src)
        if store is not None:
            self.store_read(node, name, env_text, *store)
            return
        reason = _why_not(node, src)
        if reason:
            self.site(node, name, False, reason)
            return
        call = "await " + self.call(_text(node, src), env_text, name)
        self.edits.append((node.start_byte, node.end_byte, call if parent.type in BARE_OK else f"({call})"))
        self.site(node, name, True)

    def store_read(self, node: Node, name: str, env_text: str, member: Node, call: Node | None) -> None:
        """`env.NAME.get()`: the accessor makes the same call on a store binding and gives the same
        promise of a string, so the call is replaced whole, no `await` added or taken away."""
        args = call.child_by_field_name("arguments") if call is not None else None
        if call is None or args is None:
            self.site(node, name, False, "`.get` taken without a call: route the read through readSecret by hand")
            return
        if args.named_children:
            self.site(node, name, False, "`.get(...)` called with arguments is no Secrets Store read (a KV namespace "
                                         "is read so): check the binding this name has")
            return
        if _is_optional(member) or _is_optional(call):
            self.site(node, name, False, "optional chaining (`?.get()`): the accessor throws when the binding is "
                                         "absent; decide what a missing secret means here, then route it by hand")
            return
        self.edits.append((call.start_byte, call.end_byte, self.call(_text(node, self.src), env_text, name)))
        self.site(node, name, True, store=True)

    def member(self, node: Node) -> None:
        obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        if obj is None or prop is None or _text(prop, self.src) not in self.names:
            return
        if self.is_env(obj):
            self.read(node, obj, _text(prop, self.src))

    def subscript(self, node: Node) -> None:
        obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
        if obj is None or not self.is_env(obj):
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
        if pattern is None or value is None or pattern.type != "object_pattern" or not self.is_env(value):
            return
        self.destructuring(node, pattern, value)

    def parameter(self, node: Node) -> None:
        pattern, annotation = node.child_by_field_name("pattern"), node.child_by_field_name("type")
        if pattern is None or pattern.type != "object_pattern" or not _typed_as(annotation, self.src,
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
        rest = next((p for p in pattern.named_children if p.type == "rest_pattern"), None)
        if rest is not None and self.names - {name for name, _ in secrets} - set(blocked_names):
            self.site(rest, HANDED_OFF, False, f"the rest element `{_text(rest, src)}` holds the env's other bindings, "
                                               "secrets among them: their reads are not visible here; route them by hand")
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
            statements.append(f"{kind} {local} = await {self.call(f'{env_text}.{secret}', env_text, secret)};")
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
            if self.is_env(arg):
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
    line = f"import {{ readSecret }} from {ts_string(specifier)};\n"
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
                   fallbacks: set[str] | None = None, env_types: set[str] | None = None,
                   handed: dict[str, set[int]] | None = None) -> FileResult:
    job = _Rewrite(path, source, names, fallbacks or set(), env_types or {ENV_TYPE}, local_functions, handed)
    error = _first_error(job.tree.root_node)
    if error is not None:
        # A broken tree places reads wrongly or not at all: edit nothing, count nothing as routed.
        return FileResult(path, source, source, parse_error=f"{error.start_point[0] + 1}:{error.start_point[1] + 1}")
    job.run()
    result = FileResult(path, source, source, sorted(job.sites, key=lambda s: (s.line, s.column)))
    after = _apply(job.src, job.edits)
    if any(not s.already for s in job.sites if s.rewritten) and "readSecret" not in _imported_names(job.tree.root_node, job.src):
        after = _add_import(after, _relative_import(path, accessor))
        result.imports_accessor = True
    result.after = after
    return result


def collect_files(paths: list[Path], accessor: Path) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += [f for f in sorted(p.rglob("*")) if "node_modules" not in f.parts and f.is_file()]
        elif p.exists():
            files.append(p)
        else:
            raise PlaneError.at(str(p), "", "no such file or folder", "pass the Worker's source files or folder")
    return [f for f in files if f.suffix in SUFFIXES and not f.name.endswith(".d.ts")
            and f.resolve() != accessor.resolve()]


def local_function_names(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for f in files:
        src = f.read_bytes()
        for node in _walk(_parse(f, src).root_node):
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
    def store_reads(self) -> int:
        return sum(1 for s in self.reads if s.store)

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
    def unparsed(self) -> list[FileResult]:
        return [r for r in self.results if r.parse_error]

    @property
    def changed(self) -> list[FileResult]:
        return [r for r in self.results if r.after != r.before]

    def summary(self, write: bool) -> str:
        reads, files = len(self.reads), len(self.results)
        unparsed = (f"; {len(self.unparsed)} file(s) could not be parsed, their reads not counted"
                    if self.unparsed else "")
        if not self.changed and not self.left and not self.unparsed:
            if not reads:
                return f"codemod worker {self.worker}: no secret read found in {files} file(s)"
            return (f"codemod worker {self.worker}: nothing to change: {reads} secret read(s) in {files} file(s), "
                    "every one through the accessor (100%)")
        routed = self.rewritten + self.already
        share = f" ({100 * routed // reads}% through the accessor)" if reads else ""
        store = f" ({self.store_reads} a store read `.get()`, the call replaced)" if self.store_reads else ""
        return (f"codemod worker {self.worker}: {reads} secret read(s) found in {files} file(s), {self.rewritten} "
                f"rewritten now{store}, {self.already} already through the accessor{share}, {self.fallbacks_added} "
                f"fallback argument(s) added; {len(self.left)} site(s) left for a person{unparsed}; "
                f"{len(self.changed)} file(s) {'changed' if write else 'would change'}")


def missing_accessor(accessor: Path) -> PlaneError:
    return PlaneError.at(str(accessor), "", "the accessor file the rewritten reads import does not exist",
                         f"write it first: cp {ACCESSOR_KIT} {accessor} (or pass --accessor the path of your copy), "
                         "then re-run")


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
    handed = handed_parameters(files, env_types, local)
    report = CodemodReport(worker, [rewrite_source(f, f.read_text(), names, accessor, local, fallbacks, env_types,
                                                   handed) for f in files])
    no_accessor = any(r.imports_accessor for r in report.results) and not accessor.is_file()
    if write:
        if no_accessor:
            raise missing_accessor(accessor)  # before any file is written
        for r in report.changed:
            write_text(r.path, r.after)  # never through a link (files.py)
        out = sys.stdout
    else:
        for r in report.changed:
            sys.stdout.write("".join(difflib.unified_diff(r.before.splitlines(keepends=True), r.after.splitlines(keepends=True),
                                                          fromfile=f"a/{r.path}", tofile=f"b/{r.path}")))
        out = sys.stderr
    print(report.summary(write), file=out)
    for r in report.unparsed:
        print(f"  {r.path}:{r.parse_error}: the file could not be parsed, so nothing in it was read or changed: "
              "fix its syntax, then re-run", file=out)
    for s in report.left:
        print(f"  {s.where()}: {s.name}: {s.reason}", file=out)
    if no_accessor:
        print(f"  warning: {missing_accessor(accessor).problems[0].describe()}", file=sys.stderr)
    if check and (report.left or report.unparsed or no_accessor or (report.changed and not write)):
        return 1
    return 0
