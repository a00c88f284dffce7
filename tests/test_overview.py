"""`overview`: every stack at once, in agreement with `plan --format json` of each stack, and its
html page opened in a real headless Chromium: the colour on screen of every cell is its backend's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NODE_ENV, ROOT, need_node
from png import Image

from stacks.core.overview import LEGACY, LEGACY_EXTERNAL, STORE_EXTERNAL, STORE_KIND
from stacks.ops.overview import ABSENT, COLOURS


def cli(project: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def phased(project: Path) -> Path:
    """A staged rollout: dev on the store, OpenAI in the store with fallback copies, Gong external,
    production held back on Worker secrets."""
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    data["workers"]["dev"]["backend"] = "store"
    data["secrets"]["OPENAI_API_KEY"].update(backend="store", fallback=True)
    data["secrets"]["GONG_ACCESS_KEY"]["external"] = True
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    prod = project / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text() + "  secrets-plane:backend: legacy\n")
    return project


def expected_kind(binding: dict[str, Any]) -> str:
    if binding["type"] == "secrets_store_secret":
        return STORE_EXTERNAL if binding.get("external") else STORE_KIND
    return LEGACY_EXTERNAL if binding.get("external") else LEGACY


@pytest.mark.parametrize("shape", ["shipped", "phased"])
def test_overview_agrees_with_the_plan_of_every_stack(project: Path, phased_or_not: Any, shape: str) -> None:
    target = phased_or_not(shape)
    overview = json.loads(cli(target, "overview", "--format", "json"))
    columns = {c["stack"]: c for c in overview["stacks"]}
    cells = {(r["worker"], r["binding"]): r["cells"] for r in overview["bindings"]}
    assert sorted(columns) == ["prod", "staging"]
    seen = set()
    for stack in columns:
        plan = json.loads(cli(target, "plan", "--stack", stack, "--format", "json"))
        assert columns[stack]["backend"] == plan["backend"] and columns[stack]["mode"] == plan["mode"]
        store = plan["store"]
        adopted = yaml.safe_load((target / f"Pulumi.{stack}.yaml").read_text())["config"]["secrets-plane:store"]["adopt"]
        # The store the stack file names, also when nothing of the stack is on it (a legacy stack).
        assert columns[stack]["store"] == (f"adopt {adopted} (not used: nothing of the stack is on it)"
                                           if store is None else f"adopt {store['id']}")
        for worker in plan["workers"]:
            assert overview["scripts"][worker["worker"]][stack] == worker["script_name"]
            names = {b["name"] for b in worker["bindings"]}
            for b in worker["bindings"]:
                if b.get("role") == "fallback":
                    assert cells[(worker["worker"], b["name"].removesuffix("_FALLBACK"))][stack]["copy"] is True
                    continue
                cell = cells[(worker["worker"], b["name"])][stack]
                seen.add((worker["worker"], b["name"], stack))
                assert cell["kind"] == expected_kind(b), (worker["worker"], b, cell)
                assert cell["target"] == b.get("store_secret_name", "")
                assert cell["copy"] == (f"{b['name']}_FALLBACK" in names)
                assert cell["copy_binding"] == (f"{b['name']}_FALLBACK" if cell["copy"] else "")
    every = {(w, b, s) for (w, b), per in cells.items() for s, cell in per.items() if cell is not None}
    assert every == seen, "the overview shows exactly what the plans declare"
    if shape == "phased":
        assert cells[("dev", "OPENAI_API_KEY")]["staging"]["kind"] == STORE_KIND
        assert cells[("api", "OPENAI_API_KEY")]["prod"]["kind"] == LEGACY, "production is held back"
        assert cells[("api", "OPENAI_API_KEY")]["staging"] == {"kind": STORE_KIND, "copy": True,
                                                               "target": "OPENAI_API_KEY_STAGING",
                                                               "copy_binding": "OPENAI_API_KEY_FALLBACK"}
        assert cells[("api", "GONG_ACCESS_KEY")]["staging"]["kind"] == LEGACY_EXTERNAL
        assert cells[("dev", "ANTHROPIC_API_KEY")]["prod"] is None, "dev exists in staging only"


@pytest.fixture
def phased_or_not(project: Path, request: pytest.FixtureRequest) -> Any:
    def pick(shape: str) -> Path:
        return request.getfixturevalue("phased") if shape == "phased" else project
    return pick


def test_text_and_markdown_say_what_json_says(phased: Path) -> None:
    overview = json.loads(cli(phased, "overview", "--format", "json"))
    text = cli(phased, "overview")
    markdown = cli(phased, "overview", "--format", "markdown")
    for row in overview["bindings"]:
        labels = ["-" if c is None else c["kind"] + (f" + copy `{row['binding']}_FALLBACK`" if c["copy"] else "") for c in
                  (row["cells"][s] for s in ("prod", "staging"))]
        assert f"| `{row['worker']}` | `{row['binding']}` | {labels[0]} | {labels[1]} |" in markdown
        line = next(x for x in text.splitlines() if x.startswith(f"{row['worker']}.{row['binding']} "))
        assert line.split()[1:] == " ".join(labels).replace("`", "").split(), line


def test_the_html_page_shows_each_backend_in_its_colour_in_a_real_browser(phased: Path, tmp_path: Path) -> None:
    need_node()
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is required: scripts/test.sh installs it")
    page = tmp_path / "overview.html"
    cli(phased, "overview", "--format", "html", "--output", str(page))
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text and "<link" not in text, \
        "one self-contained page"
    proc = subprocess.run(["node", str(ROOT / "tests" / "browser_harness.mjs"), str(page), str(tmp_path)],
                          capture_output=True, text=True, timeout=180, env=NODE_ENV)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads((tmp_path / "shown.json").read_text())
    assert shown["requests"] == [page.as_uri()], "nothing fetched beyond the page itself"
    assert shown["columns"] == ["Worker", "binding", "prod", "staging"], "the stacks are the columns"
    overview = json.loads(cli(phased, "overview", "--format", "json"))
    expected = {(r["worker"], r["binding"], s): c for r in overview["bindings"] for s, c in r["cells"].items()}
    assert len(shown["cells"]) == len(expected)
    image = Image(tmp_path / "overview.png")
    colours = {**COLOURS, "absent": ABSENT}
    counted: dict[str, int] = {}
    for cell in shown["cells"]:
        want = expected[(cell["worker"], cell["binding"], cell["stack"])]
        kind = "absent" if want is None else want["kind"]
        assert cell["kind"] == kind
        assert cell["text"] == ("-" if want is None else kind + (f" + copy {cell['binding']}_FALLBACK" if want["copy"]
                                                                 else ""))
        x, y, w, h = cell["box"]
        # A point in the cell's padding, clear of its text and borders.
        pixel = image.pixel(int(x + 3), int(y + h / 2))
        assert pixel == tuple(int(colours[kind][i:i + 2], 16) for i in (1, 3, 5)), (cell, pixel)
        counted[kind] = counted.get(kind, 0) + 1
    assert set(counted) == {STORE_KIND, LEGACY, LEGACY_EXTERNAL, "absent"}, counted
    for swatch in shown["legend"]:
        x, y, w, h = swatch["box"]
        assert image.pixel(int(x + 2), int(y + h / 2)) == tuple(int(colours[swatch["kind"]][i:i + 2], 16)
                                                               for i in (1, 3, 5))


def test_every_rendering_names_the_configured_store_and_the_copy_the_code_reads(phased: Path) -> None:
    """A legacy stack whose file adopts a store has that store (not "none"), said to be unused;
    a fallback copy is shown by the binding name the accessor reads."""
    text, page = cli(phased, "overview"), cli(phased, "overview", "--format", "html")
    prod = next(line for line in text.splitlines() if line.startswith("  prod: "))
    assert "store adopt 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e (not used: nothing of the stack is on it)" in prod, prod
    assert "store none" not in text and ">none<" not in page
    assert "adopt 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e (not used: nothing of the stack is on it)" in page
    api = next(line for line in text.splitlines() if line.startswith("api.OPENAI_API_KEY "))
    assert api.split()[1:] == ["legacy", "store", "+", "copy", "OPENAI_API_KEY_FALLBACK"], api
    assert "store + copy OPENAI_API_KEY_FALLBACK</td>" in page
