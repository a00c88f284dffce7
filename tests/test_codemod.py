"""The codemod in-process, file by file, output compared whole: where the env object can come
from (parameters, locals, module scope, the Worker's own env type), where the import goes, what
is a read and what is not, what is left for a person and where, the report's counts, and what
`--check` fails on. (tests/test_worker_kit.py runs it through the command line and the migrated
Worker through tsc and workerd.)"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT
from tree_sitter import Node, Tree

from stacks.core.errors import PlaneError
from stacks.core.estate import load_estate
from stacks.worker_kit.codemod import (
    CodemodReport,
    collect_files,
    declared_env_types,
    handed_parameters,
    local_function_names,
    rewrite_source,
    run_codemod,
)

NAMES = {"API_KEY", "TOKEN"}


def rewrite(tmp_path: Path, source: str, *, fallbacks: set[str] | None = None, local: set[str] | None = None,
            name: str = "src/index.ts") -> tuple[str, list[tuple[int, int, str, bool, str]]]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    source = textwrap.dedent(source)
    path.write_text(source)
    env_types = declared_env_types([path], NAMES)
    result = rewrite_source(path, source, NAMES, tmp_path / "src/lib/secrets.ts", local or set(), fallbacks, env_types)
    return result.after, [(s.line, s.column, s.name, s.rewritten, s.reason) for s in result.sites]


def report_of(tmp_path: Path, source: str, local: set[str] | None = None,
              fallbacks: set[str] | None = None) -> CodemodReport:
    path = tmp_path / "src/index.ts"
    return CodemodReport("w", [rewrite_source(path, source, NAMES, tmp_path / "src/lib/secrets.ts", local or set(),
                                              fallbacks)])


IMPORT = 'import { readSecret } from "./lib/secrets";\n'


@pytest.mark.parametrize("source, after", [
    # A local typed as the env, inside the handler.
    ("async function f(x: unknown) {\n  const e: Env = x as Env;\n  return e.API_KEY;\n}\n",
     IMPORT + "async function f(x: unknown) {\n  const e: Env = x as Env;\n  return await readSecret(e.API_KEY, "
              "\"API_KEY\");\n}\n"),
    # A module-scope variable typed as the env, read in a handler.
    ("let saved: Env;\nexport async function f() {\n  return saved.TOKEN;\n}\n",
     IMPORT + "let saved: Env;\nexport async function f() {\n  return await readSecret(saved.TOKEN, \"TOKEN\");\n}\n"),
    # A parameter typed through a wrapper type.
    ("export const f = async (e: Readonly<Env>) => e.TOKEN;\n",
     IMPORT + "export const f = async (e: Readonly<Env>) => (await readSecret(e.TOKEN, \"TOKEN\"));\n"),
    # The Worker's own name for its env: any interface declaring a binding name.
    ("interface Bindings { API_KEY: string }\nexport const f = async (b: Bindings) => b.API_KEY;\n",
     IMPORT + "interface Bindings { API_KEY: string }\nexport const f = async (b: Bindings) => "
              "(await readSecret(b.API_KEY, \"API_KEY\"));\n"),
])
def test_the_env_object_is_found_wherever_it_is_declared(tmp_path: Path, source: str, after: str) -> None:
    assert rewrite(tmp_path, source)[0] == after


@pytest.mark.parametrize("source", [
    # Not typed as an env: a local, a parameter, an interface without a binding name.
    "async function f(x: Other) {\n  const o: Other = x;\n  return o.API_KEY + x.TOKEN;\n}\n",
    "interface Other { unrelated: string }\nexport const f = async (o: Other) => o.API_KEY;\n",
    "export const f = async (o: string) => (o as any).API_KEY;\n",
    # Not a read: an assignment to the binding, and a shape check.
    "export async function f(env: Env) {\n  env.API_KEY = \"x\";\n  return typeof env.TOKEN;\n}\n",
    # A numeric index is no binding name.
    "export async function f(env: Env) {\n  return env[0];\n}\n",
])
def test_what_is_not_a_read_of_the_env_is_left_alone(tmp_path: Path, source: str) -> None:
    after, sites = rewrite(tmp_path, source)
    assert after == textwrap.dedent(source) and sites == []


def test_the_import_goes_first_in_a_file_without_imports(tmp_path: Path) -> None:
    after, _ = rewrite(tmp_path, "// header comment\nexport async function f(env: Env) { return env.TOKEN; }\n")
    assert after == IMPORT + "// header comment\nexport async function f(env: Env) { return await readSecret(" \
                             "env.TOKEN, \"TOKEN\"); }\n"


def test_the_import_goes_after_the_last_import_even_one_on_the_first_line(tmp_path: Path) -> None:
    after, _ = rewrite(tmp_path, 'import { a } from "./a";\nexport async function f(env: Env) { return env.TOKEN; }\n')
    assert after.splitlines()[:2] == ['import { a } from "./a";', IMPORT.strip()]


def test_the_import_goes_after_an_import_that_spans_lines(tmp_path: Path) -> None:
    source = 'import {\n  a,\n  b,\n} from "./ab";\n\nexport async function f(env: Env) { return env.TOKEN; }\n'
    after, _ = rewrite(tmp_path, source)
    assert after.splitlines()[:5] == ["import {", "  a,", "  b,", '} from "./ab";', IMPORT.strip()]


def test_the_import_goes_after_imports_below_a_comment_and_without_semicolons(tmp_path: Path) -> None:
    source = "// the API Worker\nimport { a } from './a'\nimport {\n  b,\n} from \"./b\"\n\n" \
             "export async function f(env: Env) { return env.TOKEN }\n"
    after, _ = rewrite(tmp_path, source)
    assert after.splitlines()[:6] == ["// the API Worker", "import { a } from './a'", "import {", "  b,",
                                      '} from "./b"', IMPORT.strip()]


def test_an_accessor_already_imported_is_not_imported_again(tmp_path: Path) -> None:
    source = 'import { readSecret } from "./lib/secrets";\nexport async function f(env: Env) { return env.TOKEN; }\n'
    after, _ = rewrite(tmp_path, source)
    assert after.count("import { readSecret }") == 1


def test_a_read_already_through_the_accessor_is_counted_once_and_given_its_copy(tmp_path: Path) -> None:
    source = ('import { readSecret } from "./lib/secrets";\n'
              'export async function f(env: Env) {\n'
              '  const a = await readSecret(env.API_KEY, "API_KEY");\n'
              '  const b = await readSecret(env.TOKEN, "TOKEN", env.TOKEN_FALLBACK);\n'
              '  return other(env.TOKEN) + readSecret("x", env.API_KEY);\n'
              '}\n')
    after, sites = rewrite(tmp_path, source, fallbacks={"API_KEY", "TOKEN"}, local={"other"})
    assert after.splitlines()[2] == '  const a = await readSecret(env.API_KEY, "API_KEY", env.API_KEY_FALLBACK);'
    assert after.splitlines()[3] == '  const b = await readSecret(env.TOKEN, "TOKEN", env.TOKEN_FALLBACK);'
    assert after.splitlines()[4] == ('  return other(await readSecret(env.TOKEN, "TOKEN", env.TOKEN_FALLBACK)) + '
                                     'readSecret("x", await readSecret(env.API_KEY, "API_KEY", env.API_KEY_FALLBACK));')
    report = report_of(tmp_path, source, {"other"}, {"API_KEY", "TOKEN"})
    assert (report.rewritten, report.already, report.fallbacks_added, len(report.left)) == (2, 2, 1, 0)
    assert report.summary(False) == ("codemod worker w: 4 secret read(s) found in 1 file(s), 2 rewritten now, 2 already through the "
                                     "accessor (100% through the accessor), 1 fallback argument(s) added; 0 site(s) "
                                     "left for a person; 1 file(s) would change")


def test_the_share_through_the_accessor_counts_what_is_left(tmp_path: Path) -> None:
    source = ('export async function f(env: Env) { return env.TOKEN; }\n'
              'export function g(env: Env) { return env.API_KEY; }\n'
              'export async function h(env: Env) { return env?.API_KEY; }\n')
    assert report_of(tmp_path, source).summary(True) == (
        "codemod worker w: 3 secret read(s) found in 1 file(s), 1 rewritten now, 0 already through the accessor (33% "
        "through the accessor), 0 fallback argument(s) added; 2 site(s) left for a person; 1 file(s) changed")


def test_sites_left_say_exactly_where_and_why(tmp_path: Path) -> None:
    source = ("export function sync(env: Env) {\n"
              "  return   env.TOKEN;\n"
              "}\n"
              "export async function h(env: Env) {\n"
              "  const x = env?.API_KEY;\n"
              "  const { API_KEY = \"dev\" } = env;\n"
              "  const { TOKEN } = env, y = 1;\n"
              "  external(env);\n"
              "  this.helper(env);\n"
              "  return env[name];\n"
              "}\n")
    after, sites = rewrite(tmp_path, source, local={"helper"})
    assert after == source, "nothing here is safe to rewrite"
    assert sites == [
        (2, 12, "TOKEN", False, "inside non-async function `sync`: make it async (and await its callers), then re-run"),
        (5, 13, "API_KEY", False, "optional chaining (`?.`): the accessor throws when the binding is absent; decide "
                                  "what a missing secret means here, then route it by hand"),
        (6, 9, "API_KEY", False, "destructuring with a default value"),
        (7, 9, "TOKEN", False, "destructuring among several declarators: split the declaration"),
        (8, 12, "(env)", False, "env object passed to `external()`, outside the scanned files: its secret reads are "
                                "not visible here; check it by hand"),
        (10, 10, "(dynamic)", False, "a key computed at run time (`env[name]`) may read a secret: route it through "
                                     "readSecret by hand"),
    ]


def test_a_destructuring_keeps_what_is_not_a_secret(tmp_path: Path) -> None:
    source = "export async function f(env: Env) {\n  const { TOKEN, KV, API_KEY: key } = env;\n  return [TOKEN, KV, key];\n}\n"
    after, _ = rewrite(tmp_path, source)
    assert after == IMPORT + ("export async function f(env: Env) {\n  const { KV } = env;\n"
                              "  const TOKEN = await readSecret(env.TOKEN, \"TOKEN\");\n"
                              "  const key = await readSecret(env.API_KEY, \"API_KEY\");\n  return [TOKEN, KV, key];\n}\n")


def test_the_files_scanned_are_typescript_and_javascript_but_not_declarations_nor_the_accessor(tmp_path: Path) -> None:
    for name in ("src/a.ts", "src/b.tsx", "src/types.d.ts", "src/lib/secrets.ts", "src/c.js", "src/d.mjs", "src/e.jsx",
                 "src/f.json", "src/g.cjs", "src/node_modules/x/index.ts", "src/node_modules/x/index.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("export {};\n")
    found = collect_files([tmp_path / "src"], tmp_path / "src/lib/secrets.ts")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == ["src/a.ts", "src/b.tsx", "src/c.js", "src/d.mjs",
                                                                         "src/e.jsx"]
    with pytest.raises(PlaneError, match="no such file or folder"):
        collect_files([tmp_path / "nope"], tmp_path / "src/lib/secrets.ts")


def test_local_functions_are_declarations_methods_and_function_values(tmp_path: Path) -> None:
    path = tmp_path / "a.ts"
    path.write_text("function one() {}\nclass C { two() {} }\nconst three = () => 1;\nconst four = function () {};\n"
                    "const five = 5;\nlet six = async () => 2;\n")
    assert local_function_names([path]) == {"one", "two", "three", "four", "six"}


def test_check_fails_while_anything_is_left_or_would_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estate = load_estate(ROOT)
    src = tmp_path / "src"
    src.mkdir()
    accessor = src / "secrets.ts"
    accessor.write_text((ROOT / "worker-kit" / "secrets.ts").read_text())
    (src / "a.ts").write_text("export async function f(env: Env) {\n  return env.OPENAI_API_KEY;\n}\n")
    assert run_codemod(estate, [src], "api", accessor, write=False, check=True) == 1, "a file would change"
    out = capsys.readouterr().out
    assert "-  return env.OPENAI_API_KEY;\n+  return await readSecret(env.OPENAI_API_KEY, \"OPENAI_API_KEY\");\n" in out
    assert out.startswith(f"--- a/{src / 'a.ts'}\n+++ b/{src / 'a.ts'}\n")
    assert run_codemod(estate, [src], "api", accessor, write=True, check=True) == 0, "written: nothing left"
    assert run_codemod(estate, [src], "api", accessor, write=False, check=True) == 0
    (src / "b.ts").write_text("export function g(env: Env) {\n  return env.OPENAI_API_KEY;\n}\n")
    assert run_codemod(estate, [src], "api", accessor, write=True, check=True) == 1, "a read left for a person"
    assert run_codemod(estate, [src], "api", accessor, write=True, check=False) == 0


def test_an_unknown_worker_is_named_with_the_nearest(tmp_path: Path) -> None:
    estate = load_estate(ROOT)
    with pytest.raises(PlaneError) as caught:
        run_codemod(estate, [tmp_path], "apu", tmp_path / "s.ts", write=False)
    assert caught.value.problems[0].hint == "did you mean 'api'?"
    with pytest.raises(PlaneError) as caught:
        run_codemod(estate, [tmp_path], "zzzzzz", tmp_path / "s.ts", write=False)
    assert caught.value.problems[0].hint == "check the name"


# ---- a store read: the binding's own `.get()` ----------------------------------------------------

@pytest.mark.parametrize("source, after", [
    # Awaited where it is: the call becomes the accessor's, the await stays the one await.
    ("export async function f(env: Env) {\n  const v = await env.TOKEN.get();\n}\n",
     IMPORT + "export async function f(env: Env) {\n  const v = await readSecret(env.TOKEN, \"TOKEN\");\n}\n"),
    # A promise kept as one, in a function that is not async: no await added, nothing left.
    ("export function f(env: Env) {\n  return env.TOKEN.get().then((v) => v.length);\n}\n",
     IMPORT + "export function f(env: Env) {\n  return readSecret(env.TOKEN, \"TOKEN\").then((v) => v.length);\n}\n"),
    # Through a Hono context, an element access, a cast.
    ("export const f = async (c) => (await c.env[\"TOKEN\"].get()) + (await (c.env as Env).API_KEY.get());\n",
     IMPORT + "export const f = async (c) => (await readSecret(c.env[\"TOKEN\"], \"TOKEN\")) + "
              "(await readSecret((c.env as Env).API_KEY, \"API_KEY\"));\n"),
])
def test_a_store_read_becomes_the_accessor_call_without_an_extra_get(tmp_path: Path, source: str, after: str) -> None:
    rewritten, sites = rewrite(tmp_path, source)
    assert rewritten == after
    assert ".get()" not in rewritten and all(ok for _, _, _, ok, _ in sites)
    again, _ = rewrite(tmp_path, rewritten)
    assert again == rewritten, "a second run changes nothing"


def test_a_store_read_passes_the_fallback_copy_and_is_counted_as_one(tmp_path: Path) -> None:
    source = "export async function f(env: Env) {\n  return await env.TOKEN.get();\n}\n"
    after, _ = rewrite(tmp_path, source, fallbacks={"TOKEN"})
    assert after.splitlines()[2] == '  return await readSecret(env.TOKEN, "TOKEN", env.TOKEN_FALLBACK);'
    report = report_of(tmp_path, source)
    assert (len(report.reads), report.rewritten, report.store_reads) == (1, 1, 1)
    assert "1 rewritten now (1 a store read `.get()`, the call replaced)" in report.summary(False)


@pytest.mark.parametrize("read, reason", [
    ("env.TOKEN.get", "`.get` taken without a call"),
    ("env.TOKEN.get(\"key\")", "`.get(...)` called with arguments is no Secrets Store read"),
    ("env.TOKEN?.get()", "optional chaining (`?.get()`)"),
    ("(env.TOKEN) || \"dev\"", "a default when the binding is absent (`||`)"),
    ("env.TOKEN ?? \"dev\"", "a default when the binding is absent (`??`)"),
])
def test_a_read_that_is_not_a_plain_value_is_left_with_why(tmp_path: Path, read: str, reason: str) -> None:
    source = f"export async function f(env: Env) {{\n  return {read};\n}}\n"
    after, sites = rewrite(tmp_path, source)
    assert after == source
    ((_, _, name, ok, why),) = sites
    assert (name, ok) == ("TOKEN", False) and why.startswith(reason)


# ---- which object is the Worker's env ----------------------------------------------------------

@pytest.mark.parametrize("source, read", [
    # A handler's env parameter, whatever its name.
    ("export default {\n  async fetch(request, e, ctx) {\n    return e.TOKEN;\n  },\n};\n", "e.TOKEN"),
    ("export default {\n  scheduled: async (controller, bindings) => {\n    return bindings.TOKEN;\n  },\n};\n",
     "bindings.TOKEN"),
    # Hono's `c`, untyped or typed as its Context under any name; Pages' and Remix's `context`.
    ("app.get(\"/\", async (c) => {\n  return c.env.TOKEN;\n});\n", "c.env.TOKEN"),
    ("app.get(\"/\", async (ctx: Context<{ Bindings: B }>) => {\n  return ctx.env.TOKEN;\n});\n", "ctx.env.TOKEN"),
    ("export async function onRequest(context) {\n  return context.env.TOKEN;\n}\n", "context.env.TOKEN"),
    ("export const loader = async ({ context }: LoaderFunctionArgs) => {\n  return context.env.TOKEN;\n};\n",
     "context.env.TOKEN"),
    # A Durable Object, an agent, a WorkerEntrypoint.
    ("export class D {\n  async fetch() {\n    return this.env.TOKEN;\n  }\n}\n", "this.env.TOKEN"),
    ("export class D {\n  async fetch() {\n    return this.ctx.env.TOKEN;\n  }\n}\n", "this.ctx.env.TOKEN"),
    # The runtime's own env, and a variable taken from an env.
    ("import { env } from \"cloudflare:workers\";\nexport async function f() {\n  return env.TOKEN;\n}\n", "env.TOKEN"),
    ("export async function f(c) {\n  const e = c.env;\n  return e.TOKEN;\n}\n", "e.TOKEN"),
    # A route callback's `env`, destructured or not.
    ("router.get(\"/\", async ({ env }) => {\n  return env.TOKEN;\n});\n", "env.TOKEN"),
])
def test_the_workers_env_is_found_in_every_place_it_comes_from(tmp_path: Path, source: str, read: str) -> None:
    after, sites = rewrite(tmp_path, source)
    assert f'await readSecret({read}, "TOKEN")' in after, after
    assert [(name, ok) for _, _, name, ok, _ in sites] == [("TOKEN", True)]


def test_a_helper_handed_the_env_reads_it_through_its_own_parameter_names(tmp_path: Path) -> None:
    """`helper(request, env)` makes helper's second parameter the env, and what helper hands on
    makes the next one's, across files; a helper that is never handed the env reads nothing."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.ts").write_text(
        "import { first } from \"./helpers\";\n"
        "export default {\n  async fetch(request: Request, e: Env) {\n    return first(request, e);\n  },\n};\n")
    (src / "helpers.ts").write_text(
        "export async function first(r: Request, bindings: unknown) {\n  return second(bindings);\n}\n"
        "async function second(b: unknown) {\n  return b.TOKEN;\n}\n"
        "async function unrelated(o: unknown) {\n  return o.TOKEN;\n}\n"
        "export class Client {\n  constructor(private readonly x: unknown) {}\n"
        "  async key(o: unknown) { return o.API_KEY; }\n}\n"
        "export async function make(e: Env) { return new Client(e); }\n")
    files = collect_files([src], src / "lib" / "secrets.ts")
    local = local_function_names(files)
    handed = handed_parameters(files, {"Env"}, local)
    assert handed == {"first": {1}, "second": {0}, "Client": {0}}
    result = rewrite_source(src / "helpers.ts", (src / "helpers.ts").read_text(), NAMES, src / "lib" / "secrets.ts",
                            local, None, {"Env"}, handed)
    assert 'return await readSecret(b.TOKEN, "TOKEN");' in result.after
    assert "return o.TOKEN;" in result.after and "return o.API_KEY;" in result.after


@pytest.mark.parametrize("source", [
    # Node's environment, however reached.
    "export async function f() {\n  return process.env.TOKEN + process.env[\"API_KEY\"];\n}\n",
    "export async function f() {\n  const { TOKEN } = process.env;\n  return TOKEN;\n}\n",
    "export async function f() {\n  const env = process.env;\n  return env.TOKEN;\n}\n",
    # Any other object's `env`, and an `env` that is someone else's.
    "export async function f(options) {\n  return options.env.TOKEN + config.env.API_KEY;\n}\n",
    "import { env } from \"./config\";\nexport async function f() {\n  return env.TOKEN;\n}\n",
    "export async function f(r, e) {\n  return e.TOKEN;\n}\n",
])
def test_no_other_env_is_ever_matched(tmp_path: Path, source: str) -> None:
    after, sites = rewrite(tmp_path, source)
    assert after == textwrap.dedent(source) and sites == []


def test_presence_checks_and_spreads(tmp_path: Path) -> None:
    """A presence test holds for both shapes and is kept; the value read beside it is routed; an
    env spread into another object, or a rest element that holds secrets, is listed."""
    source = ("export async function f(env: Env) {\n"
              "  if (!env.TOKEN || (env.API_KEY && env.TOKEN)) return env.API_KEY ? 1 : 2;\n"
              "  const copy = { ...env };\n"
              "  const { KV, ...others } = env;\n"
              "  return env.TOKEN;\n"
              "}\n")
    after, sites = rewrite(tmp_path, source)
    assert after.splitlines()[2:6] == source.splitlines()[1:4] + ['  return await readSecret(env.TOKEN, "TOKEN");']
    assert [(line, name, ok) for line, _, name, ok, _ in sites] == [(3, "(env)", False), (4, "(env)", False),
                                                                      (5, "TOKEN", True)]


# ---- JavaScript ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["src/index.js", "src/index.mjs", "src/view.jsx"])
def test_javascript_files_are_rewritten_with_a_javascript_import(tmp_path: Path, name: str) -> None:
    jsx = "  const view = <p title={title}>{title}</p>;\n" if name.endswith("x") else ""
    source = ("import { render } from './render';\n\nexport default {\n  async fetch(request, env) {\n"
              f"    const title = 'x';\n{jsx}    return new Response(env.TOKEN);\n  }},\n}};\n")
    after, sites = rewrite(tmp_path, source, name=name)
    assert after.splitlines()[1] == IMPORT.strip()
    assert '    return new Response(await readSecret(env.TOKEN, "TOKEN"));' in after
    assert [(n, ok) for _, _, n, ok, _ in sites] == [("TOKEN", True)]
    tree = tree_sitter_javascript_tree(after, jsx=bool(jsx))
    assert not tree.root_node.has_error, "the result parses as JavaScript"


def tree_sitter_javascript_tree(source: str, jsx: bool) -> Tree:
    """The result parsed by the TSX grammar with no TypeScript allowed: a type-only import, an
    annotation or a cast would show as TypeScript nodes."""
    import tree_sitter_typescript
    from tree_sitter import Language, Parser

    tree = Parser(Language(tree_sitter_typescript.language_tsx())).parse(source.encode())
    typescript_only = {"type_annotation", "as_expression", "satisfies_expression", "non_null_expression",
                       "interface_declaration", "type_alias_declaration"}
    assert not [n.type for n in _nodes(tree.root_node) if n.type in typescript_only]
    assert "import type" not in source
    return tree


def _nodes(node: Node) -> list[Node]:
    return [node] + [d for c in node.children for d in _nodes(c)]


# ---- coverage: what was not read is never counted as routed ------------------------------------

def test_a_file_that_does_not_parse_is_listed_untouched_and_never_counted(tmp_path: Path) -> None:
    path = tmp_path / "src/broken.ts"
    source = "export async function f(env: Env) {\n  return env.TOKEN;\n}\nexport function g( {\n"
    result = rewrite_source(path, source, NAMES, tmp_path / "src/lib/secrets.ts", set())
    assert (result.after, result.sites, result.parse_error) == (source, [], "4:1")
    good = rewrite_source(tmp_path / "src/ok.ts", 'import { readSecret } from "./lib/secrets";\n'
                          'export async function f(env: Env) {\n  return await readSecret(env.TOKEN, "TOKEN");\n}\n',
                          NAMES, tmp_path / "src/lib/secrets.ts", set())
    report = CodemodReport("w", [good, result])
    assert report.summary(True) == (
        "codemod worker w: 1 secret read(s) found in 2 file(s), 0 rewritten now, 1 already through the accessor "
        "(100% through the accessor), 0 fallback argument(s) added; 0 site(s) left for a person; 1 file(s) could "
        "not be parsed, their reads not counted; 0 file(s) changed")


def test_no_read_is_no_percentage(tmp_path: Path) -> None:
    report = report_of(tmp_path, "export async function f() {\n  return process.env.TOKEN;\n}\n")
    assert report.summary(False) == "codemod worker w: no secret read found in 1 file(s)"


def test_check_fails_on_a_file_that_does_not_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estate = load_estate(ROOT)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ts").write_text("export async function f(env: Env) {\n  return env.OPENAI_API_KEY;\n")
    assert run_codemod(estate, [src], "api", src / "secrets.ts", write=False, check=True) == 1
    err = capsys.readouterr().err
    assert f"  {src / 'a.ts'}:2:29: the file could not be parsed, so nothing in it was read or changed" in err
    assert "nothing to change" not in err and "100%" not in err


# ---- the accessor the import names ------------------------------------------------------------

def test_an_accessor_that_does_not_exist_is_never_imported_silently(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    estate = load_estate(ROOT)
    src = tmp_path / "src"
    src.mkdir()
    source = "export async function f(env: Env) {\n  return env.OPENAI_API_KEY;\n}\n"
    (src / "a.ts").write_text(source)
    accessor = src / "lib" / "secrets.ts"
    with pytest.raises(PlaneError) as caught:
        run_codemod(estate, [src], "api", accessor, write=True)
    (problem,) = caught.value.problems
    assert problem.location.file == str(accessor) and "does not exist" in problem.message
    assert f"cp {ROOT / 'worker-kit' / 'secrets.ts'} {accessor}" in problem.hint
    assert (src / "a.ts").read_text() == source, "nothing written"
    assert run_codemod(estate, [src], "api", accessor, write=False, check=True) == 1
    assert f"warning: {accessor}: the accessor file the rewritten reads import does not exist" in capsys.readouterr().err
    accessor.parent.mkdir()
    shutil.copy(ROOT / "worker-kit" / "secrets.ts", accessor)
    assert run_codemod(estate, [src], "api", accessor, write=True) == 0
    assert 'import { readSecret } from "./lib/secrets";' in (src / "a.ts").read_text()
