"""The wrangler config sync on its own, without wrangler: JSONC read as wrangler reads it, TOML and
JSON written with only the plane's entries changed (and the bytes left alone when nothing
changes), the diff people review, the script each env deploys and the hint that fixes a mismatch.
(Found by the mutation run of the wrangler group: each test here failed on a mutant that survived
the tests that run the real wrangler.)"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ACCOUNT, STORE_ID
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.core.errors import PlaneError
from stacks.core.estate import load_estate
from stacks.worker_kit.wrangler_config import (
    SyncResult,
    WranglerEntries,
    check_script_name,
    deployed_names,
    entries_for,
    render,
    strip_jsonc,
    sync,
)

ENTRIES = WranglerEntries(store=[{"binding": "API_KEY", "store_id": "s1", "secret_name": "api_key"}],
                          required=["TOKEN"], managed=frozenset({"API_KEY", "TOKEN", "OLD"}))
NONE = WranglerEntries(store=[], required=[], managed=frozenset({"OLD"}))


@pytest.mark.parametrize("text, data", [
    ('{"a": "x // not a comment", // a comment\n "b": 1}', {"a": "x // not a comment", "b": 1}),
    ('{"a": "q\\"uote /* not */ here", /* block */ "b": [1, 2,],}', {"a": 'q"uote /* not */ here', "b": [1, 2]}),
    ('{"a": "ends in a backslash \\\\", "b": "//"}', {"a": "ends in a backslash \\", "b": "//"}),
    ('{"a": /*/ still a comment */ 1}', {"a": 1}),
    ('{"a":/* c */1}', {"a": 1}),
    ('{"a": /**/ 1}', {"a": 1}),
    ('{"ab": "x\\"y", "c": "\\\\"}', {"ab": 'x"y', "c": "\\"}),  # escapes at odd and even offsets
    ('{"a": 1 // x\n}', {"a": 1}),
    ('{"a": 1 // xy\n}', {"a": 1}),  # a comment of either length ends at its newline
    ('{"a": 1} // the last line, no newline', {"a": 1}),
    ('{"a": 1} /* never closed', {"a": 1}),
])
def test_jsonc_reads_as_wrangler_reads_it(text: str, data: dict[str, object]) -> None:
    assert json.loads(strip_jsonc(text)) == data


def test_jsonc_without_comments_is_left_exactly_as_it_was() -> None:
    text = '{\n  "name": "api",\n  "main": "src/index.ts"\n}\n'
    assert strip_jsonc(text) == text
    assert strip_jsonc('"unterminated \\') == '"unterminated \\'
    assert strip_jsonc('"unterminated  \\') == '"unterminated  \\'


def test_toml_gains_an_env_of_its_own_without_an_empty_env_table() -> None:
    after = render(Path("wrangler.toml"), 'name = "api"\n', "staging", ENTRIES)
    assert after == ('name = "api"\n\n[[env.staging.secrets_store_secrets]]\nbinding = "API_KEY"\nstore_id = "s1"\n'
                     'secret_name = "api_key"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n')


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_config_already_in_step_is_left_byte_for_byte(suffix: str) -> None:
    path = Path("wrangler" + suffix)
    text = render(path, '{\n  "name": "api"\n}\n' if suffix == ".json" else 'name = "api"\n', None, ENTRIES)
    again = text.replace("\n", "\n\n", 1)  # a blank line the plane would not write
    assert render(path, again, None, ENTRIES) == again


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_only_the_required_list_changing_is_written(suffix: str) -> None:
    path = Path("wrangler" + suffix)
    text = render(path, '{"name": "api"}' if suffix == ".json" else 'name = "api"\n', None, ENTRIES)
    fewer = WranglerEntries(store=ENTRIES.store, required=[], managed=ENTRIES.managed)
    after = render(path, text, None, fewer)
    assert "TOKEN" not in after and "API_KEY" in after and "secrets" not in after.replace("secrets_store_secrets", "")


@pytest.mark.parametrize("suffix, text", [
    (".toml", 'name = "api"\n[secrets]\nrequired = ["OLD", "THEIRS"]\n'),
    (".json", '{"name": "api", "secrets": {"required": ["OLD", "THEIRS"]}}'),
])
def test_names_the_plane_does_not_manage_stay_in_secrets_required(suffix: str, text: str) -> None:
    after = render(Path("wrangler" + suffix), text, None, NONE)
    assert "THEIRS" in after and "OLD" not in after


def test_a_single_store_table_of_someone_elses_binding_is_kept() -> None:
    text = 'name = "api"\n[secrets_store_secrets]\nbinding = "THEIRS"\nstore_id = "x"\nsecret_name = "t"\n'
    after = render(Path("wrangler.toml"), text, None, ENTRIES)
    assert after.count("[[secrets_store_secrets]]") == 2 and 'binding = "THEIRS"' in after and \
        after.index("THEIRS") < after.index("API_KEY")


@pytest.mark.parametrize("suffix, text", [
    (".toml", 'name = "api"\n[secrets]\nrequired = ["OLD"]\n'),
    (".json", '{"name": "api", "secrets": {"required": ["OLD"]}}'),
])
def test_a_secrets_table_left_empty_is_removed(suffix: str, text: str) -> None:
    after = render(Path("wrangler" + suffix), text, None, NONE)
    assert after.strip() in ('name = "api"', '{"name": "api"}')


def test_a_secrets_table_with_other_keys_is_kept() -> None:
    after = render(Path("wrangler.toml"), 'name = "api"\n[secrets]\nrequired = ["OLD"]\nother = 1\n', None, NONE)
    assert after == 'name = "api"\n[secrets]\nother = 1\n'


def test_json_keeps_the_files_own_indent() -> None:
    tabbed = render(Path("wrangler.json"), '{\n\t"name": "api",\n\t"secrets": {"required": ["OLD"]}\n}\n', None, NONE)
    assert tabbed == '{\n\t"name": "api"\n}\n'
    spaced = render(Path("wrangler.json"), '{\n    "name": "api",\n    "secrets": {"required": ["OLD"]}\n}\n', None,
                    NONE)
    assert spaced == '{\n    "name": "api"\n}\n'


def test_the_diff_marks_a_last_line_without_newline_as_diff_does() -> None:
    assert SyncResult(Path("w.toml"), "a\nb", "a\nc").diff() == (
        "--- w.toml (now)\n+++ w.toml (desired)\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n")
    assert SyncResult(Path("w.toml"), "a\n", "a\n").diff() == ""


def test_each_env_deploys_its_own_name_or_the_top_level_name_with_the_env() -> None:
    text = '{"name": "api", "env": {"staging": {}, "prod": {"name": "api-production"}}}'
    assert deployed_names(Path("wrangler.jsonc"), text) == {None: "api", "staging": "api-staging",
                                                            "prod": "api-production"}
    assert deployed_names(Path("wrangler.toml"), '[env.staging]\nname = "s"\n[env.dev]\n') == \
        {None: None, "staging": "s", "dev": None}


@pytest.mark.parametrize("env, script, hint", [
    ("dev", "api-production", "pass --env prod (or record it: workers.api.wrangler.env.staging)"),
    ("dev", "api", "pass no --env (the top level deploys it) (or record it: workers.api.wrangler.env.staging)"),
    (None, "elsewhere", "point workers.api.wrangler at the config that deploys 'elsewhere'"),
])
def test_a_mismatch_names_both_scripts_and_the_fix(env: str | None, script: str, hint: str) -> None:
    text = 'name = "api"\n[env.prod]\nname = "api-production"\n'
    with pytest.raises(PlaneError) as caught:
        check_script_name(Path("wrangler.toml"), text, env, script, "staging", "api")
    problem = caught.value.problems[0]
    assert problem.hint == hint
    deploys = "[env.dev] deploys 'api-dev'" if env else "its top level deploys 'api'"
    assert problem.message == f"stack 'staging' binds Worker 'api' as script '{script}', but wrangler.toml {deploys}"


def test_an_env_the_file_lacks_deploys_by_the_same_rule() -> None:
    check_script_name(Path("wrangler.toml"), 'name = "api"\n', "staging", "api-staging", "staging", "api")


@pytest.mark.parametrize("name, text, words", [
    ("wrangler.toml", 'name = "api\n', "TOML parse error"),
    ("wrangler.json", '{"name": "api",\n "main": }', "JSON parse error"),
])
def test_a_broken_config_is_named_with_what_is_wrong(name: str, text: str, words: str) -> None:
    with pytest.raises(PlaneError) as caught:
        render(Path(name), text, None, NONE)
    rendered = caught.value.problems[0].render()
    assert rendered.startswith(name) and words in rendered and "fix the file's syntax" in rendered


def test_a_broken_config_is_named_when_reading_the_script_it_deploys() -> None:
    with pytest.raises(PlaneError) as caught:
        check_script_name(Path("wrangler.jsonc"), '{"name": }', None, "api", "staging", "api")
    assert caught.value.problems[0].render().startswith("wrangler.jsonc:1: error: JSON parse error")


def test_a_store_the_stack_creates_needs_its_id_for_the_config(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: secrets-plane\nruntime: python\n")
    (tmp_path / "secrets_manifest.yaml").write_text(yaml.safe_dump({
        "version": 1, "backend": "store",
        "secrets": {name: {"description": "d", "owner": "o", "provider": "p", "rotation_days": 90}
                    for name in ("API_KEY", "OTHER_KEY")},
        "workers": {"api": {"script_name": "api", "stacks": ["staging"], "secrets": ["API_KEY"],
                            "wrangler": {"config": "wrangler.toml"}},
                    "other": {"script_name": "other", "stacks": ["staging"], "secrets": ["OTHER_KEY"]}}}))
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump({"config": {
        "secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"create": "main"}}}))
    estate = load_estate(tmp_path)
    with pytest.raises(PlaneError) as caught:
        entries_for(estate, "staging", "api", None, None, None)
    assert caught.value.problems[0].render().startswith("Pulumi.staging.yaml: config.secrets-plane:store: error: "
                                                        "the store id is not known offline")
    entries, config, env = entries_for(estate, "staging", "api", None, None, "s9")
    assert entries.managed == {"API_KEY"}, "another Worker's names are not this config's to remove"
    assert (entries.store, config, env) == ([{"binding": "API_KEY", "store_id": "s9", "secret_name": "API_KEY"}],
                                            "wrangler.toml", None)


HELD_TOML = """\
name = "api"

[[secrets_store_secrets]]
binding = "API_KEY"
store_id = "s9"
secret_name = "API_KEY"

[secrets]
required = ["API_KEY_FALLBACK"]

[env.staging]
name = "api-staging"

# Written by the plane before staging was held back, and a copy only prod's store bindings have.
[[env.staging.secrets_store_secrets]]
binding = "API_KEY"
store_id = "s9"
secret_name = "API_KEY_STAGING"

[env.staging.secrets]
required = ["API_KEY_FALLBACK", "MANUAL"]
"""


@pytest.fixture
def held(tmp_path: Path) -> Path:
    """Worker api binds API_KEY (with a fallback copy where it is on the store) and EXT, an
    external secret; prod is on the store, staging held back to legacy."""
    (tmp_path / "Pulumi.yaml").write_text("name: secrets-plane\nruntime: python\n")
    secret = {"description": "d", "owner": "o", "provider": "p", "rotation_days": 90}
    (tmp_path / "secrets_manifest.yaml").write_text(yaml.safe_dump({
        "version": 1, "backend": "store",
        "secrets": {"API_KEY": {**secret, "fallback": True}, "EXT": {**secret, "external": True}, "OTHER_KEY": secret},
        "workers": {"api": {"script_name": {"staging": "api-staging", "prod": "api"}, "stacks": ["staging", "prod"],
                            "secrets": ["API_KEY", "EXT"],
                            "wrangler": {"config": "wrangler.toml", "env": {"staging": "staging"}}},
                    "other": {"script_name": "other-{stack}", "stacks": ["staging", "prod"],
                              "secrets": ["OTHER_KEY"]}}}))
    for stack, extra in (("staging", {"secrets-plane:backend": "legacy", "secrets-plane:secretName": "{name}_STAGING"}),
                         ("prod", {})):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {
            "secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID}, **extra}}))
    (tmp_path / "wrangler.toml").write_text(HELD_TOML.replace("s9", STORE_ID))
    return tmp_path


def _synced(project: Path, stack: str) -> dict[str, object]:
    import tomlkit
    estate = load_estate(project)
    entries, config, env = entries_for(estate, stack, "api", None, None, None)
    after = tomlkit.parse(render(project / config, (project / config).read_text(), env, entries)).unwrap()
    return after["env"][env] if env else after


def test_sync_lists_an_external_secret_text_in_secrets_required(held: Path) -> None:
    # wrangler deploy refuses a Worker lacking a required secret: an external one is the most
    # likely to be missing, so it is listed like the plane's own.
    section = _synced(held, "staging")
    assert "EXT" in section["secrets"]["required"]  # type: ignore[index]


def test_sync_drops_what_the_plane_wrote_for_another_stack_or_before_a_hold(held: Path) -> None:
    section = _synced(held, "staging")
    # The store entry from before the hold and prod's fallback copy were the plane's: gone. The
    # name a person added stays.
    assert "secrets_store_secrets" not in section
    assert sorted(section["secrets"]["required"]) == ["API_KEY", "EXT", "MANUAL"]  # type: ignore[index]
    prod = _synced(held, "prod")
    assert prod["secrets_store_secrets"] == [{"binding": name, "store_id": STORE_ID, "secret_name": name}
                                             for name in ("API_KEY", "EXT")]
    assert prod["secrets"]["required"] == ["API_KEY_FALLBACK"]  # type: ignore[index]


def test_check_reads_both_lists_as_sets_and_names_the_extras_it_keeps(held: Path) -> None:
    import subprocess
    import sys
    # prod's entries in another order than sync writes them, and a name a person added after them.
    (held / "wrangler.toml").write_text(f"""\
name = "api"

[[secrets_store_secrets]]
binding = "EXT"
store_id = "{STORE_ID}"
secret_name = "EXT"

[[secrets_store_secrets]]
secret_name = "API_KEY"
binding = "API_KEY"
store_id = "{STORE_ID}"

[secrets]
required = ["API_KEY_FALLBACK", "MANUAL"]
""")
    before = (held / "wrangler.toml").read_bytes()
    for action in ("check", "sync"):
        proc = subprocess.run([sys.executable, "-m", "stacks", "wrangler", action, "--stack", "prod", "--worker", "api"],
                              cwd=held, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "not managed by the plane and kept: MANUAL" in proc.stdout
        assert (held / "wrangler.toml").read_bytes() == before
    for order in (["B", "A"], ["A", "B"]):
        text = render(Path("wrangler.json"), json.dumps({"secrets": {"required": order}}), None,
                      WranglerEntries(store=[], required=["A", "B"], managed=frozenset({"A", "B"})))
        assert json.loads(text)["secrets"]["required"] == order


# ---- sync edits by spans: every byte outside the lists it changes stays -----------------------

SPAN_ENTRIES = WranglerEntries(store=[{"binding": "API_KEY", "store_id": "s1", "secret_name": "API_KEY_STAGING"}],
                               required=["TOKEN", "NEW"], managed=frozenset({"API_KEY", "TOKEN", "NEW", "OLD", "GONE"}))

SPAN_CASES = {
    # comments inside and around both lists, trailing commas, an inline one-line secrets object
    "comments.jsonc": ("staging", """\
/* The API. */
{
  "name": "api", // its script
  "env": {
    "staging": {
      "name": "api-staging",
      // store bindings: ours and theirs
      "secrets_store_secrets": [
        // the plane's, under prod's name: replaced where it stands
        { "binding": "API_KEY", "store_id": "s1", "secret_name": "API_KEY" }, // note kept
        { "binding": "THEIRS", "store_id": "s1", "secret_name": "THEIRS" },
        { "binding": "GONE", "store_id": "s1", "secret_name": "GONE" },
      ],
      "secrets": { "required": ["OLD", "MANUAL", "TOKEN"] }, // inline
    },
  },
}
""", """\
/* The API. */
{
  "name": "api", // its script
  "env": {
    "staging": {
      "name": "api-staging",
      // store bindings: ours and theirs
      "secrets_store_secrets": [
        // the plane's, under prod's name: replaced where it stands
        { "binding": "API_KEY", "store_id": "s1", "secret_name": "API_KEY_STAGING" }, // note kept
        { "binding": "THEIRS", "store_id": "s1", "secret_name": "THEIRS" },
      ],
      "secrets": { "required": ["MANUAL", "TOKEN", "NEW"] }, // inline
    },
  },
}
"""),
    # strict JSON at four spaces, blank lines, lists absent: added after the last member
    "strict.json": (None, """\
{
    "name": "api",

    "vars": { "MODE": "x" }
}
""", """\
{
    "name": "api",

    "vars": { "MODE": "x" },
    "secrets_store_secrets": [
        {
            "binding": "API_KEY",
            "store_id": "s1",
            "secret_name": "API_KEY_STAGING"
        }
    ],
    "secrets": {
        "required": ["TOKEN", "NEW"]
    }
}
"""),
    # a multi-line list keeps its layout; the env the file lacks is added as the env object's last member
    "lines.jsonc": ("staging", """\
{
\t"name": "api",
\t"secrets": {
\t\t"required": [
\t\t\t"TOKEN", // ours
\t\t\t"MANUAL"
\t\t]
\t},
\t"env": { "production": {} }
}
""", """\
{
\t"name": "api",
\t"secrets": {
\t\t"required": [
\t\t\t"TOKEN", // ours
\t\t\t"MANUAL"
\t\t]
\t},
\t"env": { "production": {}, "staging": { "secrets_store_secrets": [{ "binding": "API_KEY", "store_id": "s1", \
"secret_name": "API_KEY_STAGING" }], "secrets": { "required": ["TOKEN", "NEW"] } } }
}
"""),
    # TOML: the env's new tables go after its last table, never past the next table's banner
    "banners.toml": ("staging", """\
name = "api"

# ---- staging ----
[env.staging]
name = "api-staging"

[env.staging.vars]
MODE = "s"  # plain text

# ---- production ----
[env.production]
name = "api"

[env.production.secrets]
required = ["OLD"]
""", """\
name = "api"

# ---- staging ----
[env.staging]
name = "api-staging"

[env.staging.vars]
MODE = "s"  # plain text

[[env.staging.secrets_store_secrets]]
binding = "API_KEY"
store_id = "s1"
secret_name = "API_KEY_STAGING"

[env.staging.secrets]
required = ["TOKEN", "NEW"]

# ---- production ----
[env.production]
name = "api"

[env.production.secrets]
required = ["OLD"]
"""),
    # TOML: a table of the list replaced in place, one dropped with its lines, a multi-line array
    # with comments edited entry by entry
    "tables.toml": (None, """\
name = "api"

[[secrets_store_secrets]]
binding = "API_KEY"
store_id = "s1"
secret_name = "API_KEY"

# someone else's
[[secrets_store_secrets]]
binding = "THEIRS"
store_id = "s1"
secret_name = "THEIRS"

[[secrets_store_secrets]]
binding = "GONE"
store_id = "s1"
secret_name = "GONE"

[secrets]
required = [
  "MANUAL", # theirs
  "OLD",
  "TOKEN",
]

# ---- routes ----
[[routes]]
pattern = "x"
""", """\
name = "api"

[[secrets_store_secrets]]
binding = "API_KEY"
store_id = "s1"
secret_name = "API_KEY_STAGING"

# someone else's
[[secrets_store_secrets]]
binding = "THEIRS"
store_id = "s1"
secret_name = "THEIRS"

[secrets]
required = [
  "MANUAL", # theirs
  "TOKEN",
  "NEW",
]

# ---- routes ----
[[routes]]
pattern = "x"
"""),
}


def assert_synced(name: str, before: str, env: str | None, entries: WranglerEntries, expected: str) -> str:
    """Sync gives exactly `expected`; what check then reads is in step, and a second sync changes nothing."""
    path = Path("wrangler." + name.rsplit(".", 1)[1])
    after = render(path, before, env, entries)
    assert after == expected
    assert render(path, after, env, entries) == after
    return after


@pytest.mark.parametrize("name", sorted(SPAN_CASES))
def test_sync_changes_only_the_spans_of_its_lists(name: str) -> None:
    env, before, expected = SPAN_CASES[name]
    assert_synced(name, before, env, SPAN_ENTRIES, expected)


def test_a_list_left_empty_goes_with_its_key_and_only_its_lines() -> None:
    toml = 'name = "api"\n\n[secrets]\nrequired = ["OLD"]\n\n# banner\n[vars]\nA = "1"\n'
    assert render(Path("wrangler.toml"), toml, None, NONE) == 'name = "api"\n\n# banner\n[vars]\nA = "1"\n'
    jsonc = '{\n  "name": "api", // x\n  "secrets": { "required": ["OLD"] }, // gone with it\n  "main": "i.ts"\n}\n'
    assert render(Path("wrangler.jsonc"), jsonc, None, NONE) == '{\n  "name": "api", // x\n  "main": "i.ts"\n}\n'


def test_a_layout_sync_cannot_edit_in_place_is_a_located_error_never_a_broken_file() -> None:
    # secrets.required given by a dotted key in [env]: no span of the env's own to edit
    text = 'name = "api"\n[env]\nstaging.secrets.required = ["OLD"]\n'
    with pytest.raises(PlaneError) as caught:
        render(Path("wrangler.toml"), text, "staging", ENTRIES)
    problem = caught.value.problems[0]
    assert problem.render().startswith("wrangler.toml: env.staging: error: sync cannot edit this layout in place")


# ---- the bytes around an edit: a kept entry's comment, a file's first line, its line endings ----

KEEP_TOKEN = WranglerEntries(store=[], required=["TOKEN"], managed=frozenset({"TOKEN", "OLD", "NEW"}))
ADD_NEW = WranglerEntries(store=[], required=["TOKEN", "NEW"], managed=frozenset({"TOKEN", "OLD", "NEW"}))

NEIGHBOUR_CASES = {
    # a stale last entry on the line after a kept entry's comment: the comment stays with its entry
    "drop-after-comment.jsonc": (KEEP_TOKEN, """\
{
  "secrets": {
    "required": [
      "TOKEN", // keep
      "OLD"]
  }
}
""", """\
{
  "secrets": {
    "required": [
      "TOKEN" // keep
      ]
  }
}
"""),
    "drop-after-comment.toml": (KEEP_TOKEN, """\
[secrets]
required = [
  "TOKEN", # keep
  "OLD"]
""", """\
[secrets]
required = [
  "TOKEN" # keep
  ]
"""),
    # the same with an entry to add: the addition goes on its own line after the comment
    "drop-and-add-after-comment.jsonc": (ADD_NEW, """\
{
  "secrets": {
    "required": [
      "TOKEN", // keep
      "OLD"]
  }
}
""", """\
{
  "secrets": {
    "required": [
      "TOKEN", // keep
      "NEW"
      ]
  }
}
"""),
    # a comment between two entries on one line stays too
    "drop-after-block-comment.jsonc": (KEEP_TOKEN, """\
{ "secrets": { "required": ["TOKEN", /* ours */ "OLD"] } }
""", """\
{ "secrets": { "required": ["TOKEN" /* ours */ ] } }
"""),
    # ... and with an entry to add on the line: after the comment, which stays beside its entry
    "add-after-block-comment.jsonc": (ADD_NEW, """\
{ "secrets": { "required": ["TOKEN", /* ours */ "OLD"] } }
""", """\
{ "secrets": { "required": ["TOKEN", /* ours */ "NEW"] } }
"""),
    "add-after-block-comment-no-comma.jsonc": (ADD_NEW, """\
{ "secrets": { "required": ["TOKEN" /* ours */] } }
""", """\
{ "secrets": { "required": ["TOKEN", /* ours */ "NEW"] } }
"""),
    # a block comment over several lines after the last entry: the addition goes after it
    "add-after-long-comment.jsonc": (ADD_NEW, """\
{
  "secrets": {
    "required": [
      "TOKEN" /* set by
                 the plane */
    ]
  }
}
""", """\
{
  "secrets": {
    "required": [
      "TOKEN", /* set by
                 the plane */
      "NEW"
    ]
  }
}
"""),
    # no top-level keys: a first-line schema comment stays the first line
    "schema-first.toml": (KEEP_TOKEN, """\
#:schema node_modules/wrangler/config-schema.json

# the API's plain vars
[vars]
MODE = "x"
""", """\
#:schema node_modules/wrangler/config-schema.json

[secrets]
required = ["TOKEN"]

# the API's plain vars
[vars]
MODE = "x"
"""),
}


@pytest.mark.parametrize("name", sorted(NEIGHBOUR_CASES))
def test_sync_keeps_the_bytes_beside_its_edits(name: str) -> None:
    entries, before, expected = NEIGHBOUR_CASES[name]
    assert_synced(name, before, None, entries, expected)


@pytest.mark.parametrize("name", ["comments.jsonc", "banners.toml", "lines.jsonc", "strict.json"])
def test_a_crlf_file_stays_crlf(name: str) -> None:
    env, before, expected = SPAN_CASES[name]
    path = Path("wrangler." + name.split(".", 1)[1])
    after = render(path, before.replace("\n", "\r\n"), env, SPAN_ENTRIES)
    assert after == expected.replace("\n", "\r\n")
    assert "\n" not in after.replace("\r\n", "")


def test_sync_writes_a_crlf_file_back_crlf(tmp_path: Path) -> None:
    env, before, expected = SPAN_CASES["banners.toml"]
    path = tmp_path / "wrangler.toml"
    path.write_bytes(before.replace("\n", "\r\n").encode())
    assert sync(path, env, SPAN_ENTRIES, write=True).changed
    assert path.read_bytes() == expected.replace("\n", "\r\n").encode()
    assert not sync(path, env, SPAN_ENTRIES, write=False).changed


# ---- any layout of the required list: every kept entry's comment stays, no byte outside moves --

NAMES = ["TOKEN", "OLD", "NEW", "MANUAL", "THEIRS"]
MANAGED = frozenset({"TOKEN", "OLD", "NEW"})
AROUND = {"toml": ('name = "api"\n\n[secrets]\nrequired = ', '\n\n[vars]\nA = "1"\n'),
          "jsonc": ('{\n  "name": "api",\n  "secrets": { "required": ', ' } // the list\n}\n')}


@st.composite
def _required_list(draw: st.DrawFn, dialect: str) -> tuple[str, list[str]]:
    """A list as people write one: entries one a line or on one line, commas (a trailing one or
    not), comments after entries (line comments, block comments, over several lines)."""
    line = "#" if dialect == "toml" else "//"
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    body = "[" + draw(st.sampled_from(["", "\n  "]))
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 or draw(st.booleans()) else ""
        after = [" ", "\n  ", f" {line} c{i}\n  "] + ([f" /* c{i} */ ", f" /* c{i}\n  more */\n  "] if dialect == "jsonc" else [])
        body += json.dumps(name) + comma + draw(st.sampled_from(after if i < len(names) - 1 else ["", *after]))
    return body + draw(st.sampled_from(["", "\n"])) + "]", names


@pytest.mark.parametrize("dialect", ["toml", "jsonc"])
@settings(max_examples=int(__import__("os").environ.get("SP_EXAMPLES", 300)), deadline=None)
@given(data=st.data())
def test_any_layout_of_the_list_keeps_each_kept_entrys_comment(dialect: str, data: st.DataObject) -> None:
    array, names = data.draw(_required_list(dialect))
    wanted = data.draw(st.lists(st.sampled_from(sorted(MANAGED)), unique=True, min_size=1))
    head, tail = AROUND[dialect]
    text = head + array + tail
    entries = WranglerEntries(store=[], required=wanted, managed=MANAGED)
    path = Path("wrangler." + dialect)
    after = render(path, text, None, entries)  # a refusal fails the test: every layout here is editable
    assert after.startswith(head) and after.endswith(tail), (text, after)
    if dialect == "toml":
        tomllib.loads(after)  # TOML 1.0 as strict parsers read it
    for i, name in enumerate(names):
        if f"c{i}" in text and (name not in MANAGED or name in wanted):
            assert f"c{i}" in after, (text, wanted, after)
    assert render(path, after, None, entries) == after


@st.composite
def _store_list(draw: st.DrawFn, dialect: str) -> tuple[str, list[str]]:
    """The store bindings as people write them: JSONC objects on one line or a member a line, with
    comments; TOML [[tables]] with banners and blank lines between."""
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    if dialect == "toml":
        body = ""
        for i, name in enumerate(names):
            body += draw(st.sampled_from(["", "\n", f"# c{i}\n", f"\n# c{i}\n"]))
            body += f'[[secrets_store_secrets]]\nbinding = "{name}"\nstore_id = "s1"\nsecret_name = "{name}"'
            body += draw(st.sampled_from(["", f"  # d{i}"])) + "\n"
        return body, names
    body = "[" + draw(st.sampled_from(["", "\n    "]))
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 or draw(st.booleans()) else ""
        members = [f'"binding": "{name}"', '"store_id": "s1"', f'"secret_name": "{name}"']
        entry = draw(st.sampled_from(["{ " + ", ".join(members) + " }",
                                      "{\n      " + ",\n      ".join(members) + "\n    }",
                                      "{\n      " + ",\n      ".join(members[:2]) + f", // d{i}\n      "
                                      + members[2] + "\n    }"]))
        after = [" ", "\n    ", f" // c{i}\n    ", f" /* c{i} */ "]
        body += entry + comma + draw(st.sampled_from(after if i < len(names) - 1 else ["", *after]))
    return body + draw(st.sampled_from(["", "\n  "])) + "]", names


@pytest.mark.parametrize("dialect", ["toml", "jsonc"])
@settings(max_examples=int(__import__("os").environ.get("SP_EXAMPLES", 300)), deadline=None)
@given(data=st.data())
def test_any_layout_of_the_store_bindings_keeps_each_kept_entrys_comment(dialect: str, data: st.DataObject) -> None:
    listed, names = data.draw(_store_list(dialect))
    wanted = data.draw(st.lists(st.sampled_from(sorted(MANAGED)), unique=True, min_size=1))
    renamed = data.draw(st.sets(st.sampled_from(sorted(MANAGED))))
    store = [{"binding": n, "store_id": "s1", "secret_name": n + ("_STAGING" if n in renamed else "")} for n in wanted]
    if dialect == "toml":
        head, tail = 'name = "api"\n\n', '\n# ---- vars ----\n[vars]\nA = "1"\n'
    else:
        head, tail = '{\n  "name": "api", // x\n  "secrets_store_secrets": ', ',\n  "main": "i.ts"\n}\n'
    text = head + listed + tail
    entries = WranglerEntries(store=store, required=[], managed=MANAGED)
    path = Path("wrangler." + dialect)
    after = render(path, text, None, entries)
    assert after.startswith(head.rstrip("\n")) and after.endswith(tail), (text, after)
    if dialect == "toml":
        tomllib.loads(after)
    for i, name in enumerate(names):
        for mark in (f"c{i}", f"d{i}"):
            if mark in text and (name not in MANAGED or name in wanted):
                assert mark in after, (text, store, after)
    assert render(path, after, None, entries) == after


# ---- from a review: shapes wrangler reads, each edited in place or refused with its place ------

S1 = {"binding": "API_KEY", "store_id": "s1", "secret_name": "api_key"}
STORE_AND_TOKEN = WranglerEntries(store=[S1], required=["TOKEN"], managed=frozenset({"API_KEY", "TOKEN", "OLD"}))
TOKEN_ONLY = WranglerEntries(store=[], required=["TOKEN"], managed=frozenset({"API_KEY", "TOKEN", "OLD"}))
STORE_ONLY = WranglerEntries(store=[S1], required=[], managed=frozenset({"API_KEY", "TOKEN", "OLD"}))
NOTHING = WranglerEntries(store=[], required=[], managed=frozenset({"API_KEY", "TOKEN", "OLD"}))

IN_PLACE = {
    # an empty inline table: TOML 1.0 keeps an inline table on one line
    "empty-inline.toml": ("staging", STORE_AND_TOKEN, '[env.staging]\nname = "x"\nsecrets = {}\n',
                          '[env.staging]\nname = "x"\nsecrets = { required = ["TOKEN"] }\n\n'
                          '[[env.staging.secrets_store_secrets]]\nbinding = "API_KEY"\nstore_id = "s1"\n'
                          'secret_name = "api_key"\n'),
    # lists and tables the file holds empty are its own: filled, or left as they are
    "empty-lists.toml": (None, TOKEN_ONLY, 'name = "x"\nsecrets_store_secrets = []\n\n[secrets]\nrequired = ["OLD"]\n',
                         'name = "x"\nsecrets_store_secrets = []\n\n[secrets]\nrequired = ["TOKEN"]\n'),
    "empty-required.jsonc": (None, STORE_ONLY, '{\n  "name": "x",\n  "secrets": { "required": [] }\n}\n',
                             '{\n  "name": "x",\n  "secrets": { "required": [] },\n  "secrets_store_secrets": [\n'
                             '    {\n      "binding": "API_KEY",\n      "store_id": "s1",\n      "secret_name": "api_key"\n'
                             '    }\n  ]\n}\n'),
    "empty-secrets.jsonc": (None, STORE_ONLY, '{ "name": "x", "secrets": {} }\n',
                            '{ "name": "x", "secrets": {}, "secrets_store_secrets": [{ "binding": "API_KEY", '
                            '"store_id": "s1", "secret_name": "api_key" }] }\n'),
    "empty-store.json": (None, NOTHING, '{"name": "x", "secrets_store_secrets": [], "secrets": {"required": ["OLD"]}}\n',
                         '{"name": "x", "secrets_store_secrets": []}\n'),
    # a binding moving from a Worker secret to the store, its env followed by another
    "retyped-env.toml": ("staging", STORE_ONLY, '[env.staging]\nname = "api-staging"\n\n[env.staging.secrets]\n'
                         'required = ["OLD"]\n\n[env.production]\nname = "api"\n',
                         '[env.staging]\nname = "api-staging"\n\n[[env.staging.secrets_store_secrets]]\n'
                         'binding = "API_KEY"\nstore_id = "s1"\nsecret_name = "api_key"\n\n[env.production]\nname = "api"\n'),
    "retyped-env-back.toml": ("staging", TOKEN_ONLY, '[env.staging]\nname = "api-staging"\n\n'
                              '[[env.staging.secrets_store_secrets]]\nbinding = "OLD"\nstore_id = "s1"\n'
                              'secret_name = "OLD"\n\n[env.production]\nname = "api"\n',
                              '[env.staging]\nname = "api-staging"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n\n'
                              '[env.production]\nname = "api"\n'),
    # both of the env's store tables go, the secret that replaces them comes where they were
    "retyped-env-two.toml": ("staging", TOKEN_ONLY, '[env.staging]\nname = "api-staging"\n\n'
                             '[[env.staging.secrets_store_secrets]]\nbinding = "OLD"\nstore_id = "s1"\nsecret_name = "OLD"\n\n'
                             '[[env.staging.secrets_store_secrets]]\nbinding = "API_KEY"\nstore_id = "s1"\n'
                             'secret_name = "api_key"\n\n# routes\n[[routes]]\npattern = "x"\n',
                             '[env.staging]\nname = "api-staging"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n\n'
                             '# routes\n[[routes]]\npattern = "x"\n'),
    # ... the env's last table at the file's end, or a header straight after it: the blank lines as they were
    "retyped-at-end.toml": ("staging", TOKEN_ONLY, '[env.staging]\nname = "a"\n\n[[env.staging.secrets_store_secrets]]\n'
                            'binding = "OLD"\nstore_id = "s1"\nsecret_name = "OLD"\n',
                            '[env.staging]\nname = "a"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n'),
    "retyped-before-header.toml": ("staging", TOKEN_ONLY, '[env.staging]\nname = "a"\n\n'
                                   '[[env.staging.secrets_store_secrets]]\nbinding = "OLD"\nstore_id = "s1"\n'
                                   'secret_name = "OLD"\n[env.production]\nname = "b"\n',
                                   '[env.staging]\nname = "a"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n'
                                   '[env.production]\nname = "b"\n'),
    # valid TOML 1.0 the document model cannot unwrap (a sub-table of an [[array]] entry given later)
    "late-sub-table.toml": ("staging", TOKEN_ONLY, 'name = "x"\n[[env.staging.routes]]\npattern = "p"\n[vars]\nA = "v"\n'
                            '[env.staging.routes.zone]\nid = "z"\n',
                            'name = "x"\n[[env.staging.routes]]\npattern = "p"\n[vars]\nA = "v"\n'
                            '[env.staging.routes.zone]\nid = "z"\n\n[env.staging.secrets]\nrequired = ["TOKEN"]\n'),
    # a lone store table becomes one of an array, its comment kept
    "lone-table.toml": (None, STORE_ONLY, '[secrets_store_secrets] # ours\nbinding = "API_KEY"\nstore_id = "s1"\n'
                        'secret_name = "old"\n',
                        '[[secrets_store_secrets]] # ours\nbinding = "API_KEY"\nstore_id = "s1"\nsecret_name = "api_key"\n'),
    # a byte-order mark (what some Windows editors write): wrangler reads it, and it stays
    "bom.jsonc": (None, TOKEN_ONLY, '\ufeff{ "name": "x" }\n', '\ufeff{ "name": "x", "secrets": { "required": ["TOKEN"] } }\n'),
    "bom.toml": (None, TOKEN_ONLY, '\ufeffname = "x"\n', '\ufeffname = "x"\n\n[secrets]\nrequired = ["TOKEN"]\n'),
    # the indent of a /** */ banner's lines is not the file's
    "banner-indent.jsonc": (None, TOKEN_ONLY, '/**\n * The API.\n */\n{\n    "name": "x"\n}\n',
                            '/**\n * The API.\n */\n{\n    "name": "x",\n    "secrets": {\n        "required": ["TOKEN"]\n'
                            '    }\n}\n'),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_sync_edits_these_layouts_in_place(name: str) -> None:
    env, entries, before, expected = IN_PLACE[name]
    after = assert_synced(name, before, env, entries, expected)
    if name.endswith(".toml"):
        tomllib.loads(after.removeprefix("\ufeff"))  # TOML 1.0 as strict parsers read it


@pytest.mark.parametrize("suffix, text, where", [
    (".json", '{"secrets_store_secrets": {"binding": "X", "store_id": "s1", "secret_name": "X"}}', "secrets_store_secrets"),
    (".toml", '[secrets]\nrequired = ["OLD", 1]\n', "secrets.required"),
    (".toml", 'secrets = "x"\n', "secrets"),
    (".toml", 'secrets = ["A"]\n', "secrets"),
    (".json", '{"secrets": []}', "secrets"),
    (".json", '{"secrets_store_secrets": ["A"]}', "secrets_store_secrets"),
    (".toml", 'env = "x"\n', "env"),
    (".toml", '[env]\nstaging = "x"\n', "env.staging"),
    (".json", '{"env": []}', "env"),
    (".json", '{"env": {"staging": null}}', "env.staging"),
    (".json", '{"env": {"staging": {"secrets": null}}}', "env.staging.secrets"),
])
def test_a_shape_wrangler_does_not_read_is_a_located_error(suffix: str, text: str, where: str) -> None:
    env = "staging" if "env" in text else None
    with pytest.raises(PlaneError) as caught:
        render(Path("wrangler" + suffix), text, env, STORE_AND_TOKEN)
    assert caught.value.problems[0].render().startswith(f"wrangler{suffix}: {where}" + (":" if where else ""))


def test_a_root_level_dotted_env_key_is_valid_but_not_edited_in_place() -> None:
    text = 'name = "x"\nenv.staging.secrets.required = ["OLD"]\n'  # valid TOML: wrangler reads it
    assert tomllib.loads(text)["env"]["staging"]["secrets"]["required"] == ["OLD"]
    with pytest.raises(PlaneError) as caught:
        render(Path("wrangler.toml"), text, "staging", STORE_AND_TOKEN)
    assert caught.value.problems[0].render().startswith("wrangler.toml: env.staging: error: sync cannot edit this "
                                                         "layout in place")
