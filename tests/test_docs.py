"""The docs agree with the program: generated parts are what the program makes now, every relative
link and anchor resolves, every command shown parses with the real argument parser, every page is
on the README's map, statements about read-only tokens match what each command asks for, the
workflow gives each command the token it needs, and the manifest example validates."""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest
import yaml
from conftest import ACCOUNT, ROOT, STORE_ID

from stacks import reference
from stacks.api.permissions import COMMANDS, READ_ONLY, STORE_READ, STORE_WRITE, WORKERS_READ, WORKERS_WRITE
from stacks.cli import build_parser
from stacks.core.estate import load_estate

PAGES = reference.pages(ROOT)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
PERMISSIONS = {WORKERS_READ, WORKERS_WRITE, STORE_READ, STORE_WRITE}


def prose(text: str) -> str:
    """The page without its fenced code blocks (kept as blank lines, so line numbers hold)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", lambda m: "_" if m.group(0) == "_" else "", heading.strip().lower())
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(page.read_text()).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_the_generated_parts_are_what_the_program_makes_now() -> None:
    assert PAGES and (ROOT / "docs" / "manifest.md") in PAGES
    assert reference.stale(ROOT) == [], "run: python -m stacks.reference --write"
    found = {m.group(1) for page in PAGES for m in reference.MARK.finditer(page.read_text())}
    assert found == set(reference.GENERATED), "every generated part appears in some page"


def test_a_stale_part_is_found_and_named(tmp_path: Path) -> None:
    """The check can fail: a page whose reference lacks a field is reported, by page and part."""
    (tmp_path / "docs").mkdir()
    fresh = reference.regenerate("<!-- generated:manifest -->\n<!-- /generated:manifest -->\n")
    assert "`rotation_days`" in fresh and "`health_url`" in fresh and "`description`" in fresh
    (tmp_path / "docs" / "manifest.md").write_text(fresh.replace("| `health_url`", "| `health_urls`"))
    assert reference.stale(tmp_path) == ["docs/manifest.md: manifest"]


def test_the_command_reference_lists_every_command_with_its_real_usage() -> None:
    text = (ROOT / "docs" / "commands.md").read_text()
    parser = build_parser()
    for name, _, _sub in reference._subcommands(parser):
        assert f"### {name}\n" in text, name
        assert f"usage: secrets-plane {name} " in text, name
    for option in ("--from-wrangler", "--placeholders", "--check", "--require-values"):
        assert option in text


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    checked = 0
    for page in PAGES:
        for lineno, line in enumerate(prose(page.read_text()).splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # an absolute URL: not followed from a test
                checked += 1
                path, _, fragment = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if not dest.exists():
                    broken.append(f"{page.relative_to(ROOT)}:{lineno}: {target}: no such file")
                elif fragment and fragment not in anchors(dest):
                    broken.append(f"{page.relative_to(ROOT)}:{lineno}: {target}: no heading '#{fragment}' in "
                                  f"{dest.relative_to(ROOT)}")
    assert checked > 30
    assert broken == []


def test_the_anchor_rule_is_githubs() -> None:
    assert slug("The Worker's code") == "the-workers-code"
    assert slug("2. Describe what exists") == "2-describe-what-exists"
    assert slug("Live checks: preflight, canary, audit, import") == "live-checks-preflight-canary-audit-import"
    assert slug("`values load`") == "values-load"
    assert slug("secrets_store_secret bindings") == "secrets_store_secret-bindings"


def test_every_page_is_on_the_readme_map() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in LINK.findall(readme) if not t.startswith("#")}
    assert {p.resolve() for p in (ROOT / "docs").glob("*.md")} <= linked
    assert len(readme.encode()) <= 10 * 1024, "the README stays a front door"


def shown_commands() -> list[tuple[str, str]]:
    """(where, command line) for every `python -m stacks ...` or `secrets-plane ...` a reader is
    shown to run: in shell blocks and in code spans."""
    out = []
    for page in PAGES:
        text = reference.MARK.sub("", page.read_text())  # generated tables name commands, not run them
        where = str(page.relative_to(ROOT))
        candidates = []
        for match in FENCE.finditer(text):
            if match.group(1) in ("sh", "bash", "console", ""):
                candidates += [line for line in match.group(2).splitlines()]
        candidates += CODE_SPAN.findall(prose(text))
        for line in candidates:
            found = re.search(r"(?:python -m stacks|bin/secrets-plane|^secrets-plane)(?= )(.*)", line)
            if found and "stacks." not in line[found.start():found.start() + 20]:
                out.append((where, found.group(1)))
    return out


def argv_of(shown: str) -> list[str]:
    tokens = shlex.split(shown, comments=True)
    for i, token in enumerate(tokens):
        if token in ("|", ">", ">>", "<", "&&", ";", "2>&1") or token.startswith((">", "<")):
            return tokens[:i]
    return tokens


def test_every_command_shown_parses_with_the_real_parser(capsys: pytest.CaptureFixture[str]) -> None:
    shown = shown_commands()
    assert len(shown) > 30
    seen = set()
    refused = []
    for where, line in shown:
        argv = argv_of(line)
        seen.add(argv[0] if argv else "")
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            refused.append(f"{where}: python -m stacks {line.strip()}: {capsys.readouterr().err.strip()[-200:]}")
    assert refused == []
    # Every command a newcomer needs appears, shown runnable, somewhere.
    assert {"validate", "plan", "diff", "preflight", "canary", "audit", "rotate", "values", "dev", "init",
            "overview", "types", "codemod", "wrangler", "adopt-store", "import", "retire"} <= seen


def test_a_wrong_command_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail: an option that does not exist is refused by the same parser."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv_of("audit --stack prod --output audit.md  # no such option"))
    assert "2 unexpected argument(s), at position(s) 4, 5 of 5" in capsys.readouterr().err
    assert argv_of("values load --stack s - < prod.env # comment") == ["values", "load", "--stack", "s", "-"]


def sentences(text: str) -> list[str]:
    flat = re.sub(r"\s*\n\s*", " ", text)
    return re.split(r"(?<=[.;:])\s+(?=[A-Z`(])|\n", flat)


def commands_named(sentence: str) -> set[str]:
    """The commands a sentence names: in a code span (`canary`, `python -m stacks canary --stack s`,
    `pulumi up --refresh`), or as the words that name only a command."""
    named = set()
    spans = [re.sub(r"^(\.venv/bin/)?python -m stacks ", "", s) for s in CODE_SPAN.findall(sentence)]
    for command in COMMANDS:
        if any(s == command or s.startswith(command + " ") for s in spans):
            named.add(command)
        if command in ("preflight", "canary", "audit", "adopt-store") and re.search(rf"\b{command}\b", sentence):
            named.add(command)
    return named


def test_what_the_docs_say_about_tokens_matches_what_each_command_asks_for() -> None:
    """A sentence that calls a token read-only names only commands that need nothing more; every
    permission named is one Cloudflare has; the generated tables say the rest."""
    checked = 0
    wrong = []
    for page in PAGES:
        text = reference.MARK.sub("", page.read_text())
        for sentence in sentences(prose(text)):
            for name in re.findall(r"(?:Workers Scripts|Secrets Store) (?:Read|Write|Edit|Admin)\w*", sentence):
                if name not in PERMISSIONS:
                    wrong.append(f"{page.name}: unknown permission '{name}'")
            if "read-only" in sentence.lower() and "token" in sentence.lower():
                checked += 1
                for command in commands_named(sentence):
                    if not set(COMMANDS[command]) <= set(READ_ONLY):
                        wrong.append(f"{page.name}: '{sentence[:120]}' calls a read-only token enough for "
                                     f"`{command}`, which needs {', '.join(COMMANDS[command])}")
    assert checked >= 3
    assert wrong == []


def test_the_workflow_gives_each_command_the_token_it_needs() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "secrets-plane.yml").read_text())
    pairs = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            token = (step.get("env") or {}).get("CLOUDFLARE_API_TOKEN")
            if token is None:
                continue
            run = step.get("run") or ""
            command = step.get("with", {}).get("command") if "pulumi/actions" in step.get("uses", "") else None
            if command:
                pairs.append((f"pulumi {command}", token))
            for found in re.findall(r"-m stacks ([a-z-]+)", run):
                pairs.append((found, token))
    assert len(pairs) >= 8
    for command, token in pairs:
        readonly = "READONLY" in token
        needs = COMMANDS[command]
        assert readonly == (set(needs) <= set(READ_ONLY)), (command, token, needs)


def test_the_manifest_example_validates(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "manifest.md").read_text()
    example = next(m.group(2) for m in FENCE.finditer(text) if m.group(1) == "yaml" and "version: 1" in m.group(2))
    (tmp_path / "secrets_manifest.yaml").write_text(example)
    (tmp_path / "Pulumi.yaml").write_text("name: secrets-plane\nruntime: python\n")
    for stack in ("staging", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {
            "secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID},
            "secrets-plane:secretName": "{name}_STAGING" if stack == "staging" else "{name}"}}))
    estate = load_estate(tmp_path)
    keys = set(yaml.safe_load(example)["workers"]["api"]) | set(yaml.safe_load(example)["secrets"]["OPENAI_API_KEY"])
    assert {"description", "health_url", "wrangler", "bindings", "fallback", "backend"} <= keys
    assert estate.desired_state("staging").workers
