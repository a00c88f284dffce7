"""The benchmark (`python -m bench`). It drives the fake Cloudflare API and the provider-host
harness kept with the tests, so their folder is importable from here."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
