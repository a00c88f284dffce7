"""The codemod in-process, file by file, output compared whole: where the env object can come
from (parameters, locals, module scope, the Worker's own env type), where the import goes, what
is a read and what is not, what is left for a person and where, the report's counts, and what
`--check` fails on. (tests/test_worker_kit.py runs it through the command line and the migrated
Worker through tsc and workerd.)"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from stacks.core.errors import PlaneError
from stacks.core.estate import load_estate
from stacks.worker_kit.codemod import (
    CodemodReport,
    collect_files,
    declared_env_types,
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
    assert report.summary(False) == ("codemod worker w: 4 secret read(s) found, 2 rewritten now, 2 already through the "
                                     "accessor (100% through the accessor), 1 fallback argument(s) added; 0 site(s) "
                                     "left for a person; 1 file(s) would change")


def test_the_share_through_the_accessor_counts_what_is_left(tmp_path: Path) -> None:
    source = ('export async function f(env: Env) { return env.TOKEN; }\n'
              'export function g(env: Env) { return env.API_KEY; }\n'
              'export async function h(env: Env) { return env?.API_KEY; }\n')
    assert report_of(tmp_path, source).summary(True) == ("codemod worker w: 3 secret read(s) found, 1 rewritten now, 0 already through the "
                                    "accessor (33% through the accessor), 0 fallback argument(s) added; 2 site(s) "
                                    "left for a person; 1 file(s) changed")


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


def test_the_files_scanned_are_typescript_but_not_declarations_nor_the_accessor(tmp_path: Path) -> None:
    for name in ("src/a.ts", "src/b.tsx", "src/types.d.ts", "src/lib/secrets.ts", "src/c.js",
                 "src/node_modules/x/index.ts"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("export {};\n")
    found = collect_files([tmp_path / "src"], tmp_path / "src/lib/secrets.ts")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == ["src/a.ts", "src/b.tsx"]
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
