"""The suite's own layout: what keeps it fast stays in force."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

GROUPED = '''
import os, pytest
from pathlib import Path
pytestmark = pytest.mark.xdist_group("shared-estate")

@pytest.mark.parametrize("i", range(8))
def test_one(i):
    (Path(os.environ["RAN_IN"]) / f"ran-{i}").write_text(os.environ["PYTEST_XDIST_WORKER"])
'''


def test_tests_of_one_group_share_one_worker(tmp_path: Path) -> None:
    """test_bench_counts.py builds its counted estate once per process: with the suite's own options
    (pyproject.toml's addopts), a group must land on one worker, or the estate is built once per
    worker and the suite takes twice as long (pytest 9.2 with xdist 3.8 silently spread groups)."""
    addopts = shlex.split(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
                          ["addopts"])
    assert "loadgroup" in " ".join(addopts)
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    ran = tmp_path / "ran"
    ran.mkdir()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                           "--rootdir", str(tmp_path), *addopts, "test_grouped.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "RAN_IN": str(ran)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = [p.read_text() for p in ran.glob("ran-*")]
    assert len(workers) == 8 and len(set(workers)) == 1, workers


def test_the_virtualenv_is_ignored_whether_a_folder_or_a_link() -> None:
    # Git overwrites ignored files on checkout: a tracked `.venv` link would replace a real one.
    for path in (".venv", ".venv/bin/python", "venv"):
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", path])
        assert ignored.returncode == 0, f"{path} is not ignored"
