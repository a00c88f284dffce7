"""Break each write-path behaviour the docs promise (docs/architecture.md, docs/hardening.md), one at a
time, and name the test that catches it. Runs in a scratch copy of the tree; exits 1 if any break
goes unnoticed.

    .venv/bin/python mutation/pinned_behaviours.py [WORDS...]   # only breaks whose label has WORDS
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WP, WB, FAKE = "stacks/resources/write_plan.py", "stacks/resources/worker_bindings.py", "tests/fake_cloudflare.py"
BP = "stacks/resources/bindings_provider.py"
API = "stacks/api/workers.py"
UNIT, PROPERTY = "tests/test_worker_bindings.py", "tests/test_property_bindings.py"
PLAN, FAULTS, IN_FLIGHT = "tests/test_write_plan.py", "tests/test_faults.py", "tests/test_in_flight.py"

# (what breaks, file, original text, broken text, tests expected to catch it)
BREAKS: list[tuple[str, str, str, str, str]] = [
    ("a write when the live Worker already matches", WP,
     "        return bool(self.values_written) or self.changes_live", "        return True", UNIT),
    ("a store binding compared by type only", WP,
     '        return bool(live.get("store_id") == spec.get("store_id") and live.get("secret_name") == spec.get("secret_name"))',
     "        return True", UNIT),
    ("a store binding compared without its secret_name", WP,
     ' and live.get("secret_name") == spec.get("secret_name"))', ")", UNIT),
    ("a store binding compared without its store_id", WP,
     'live.get("store_id") == spec.get("store_id") and ', "", UNIT),
    ("value_changed_at reset for untouched values (provider host)", BP,
     '(now if spec["name"] in chg.set_values or spec["name"] not in old_stamps', "(now if True", UNIT),
    ("value_changed_at reset for untouched values (property)", BP,
     '(now if spec["name"] in chg.set_values or spec["name"] not in old_stamps', "(now if True", PROPERTY),
    ("an unchanged secret_text re-sent on the settings path", WP,
     '            out.bindings.append({"type": INHERIT, "name": name})\n'
     '            out.expect_managed[name] = {"type": TEXT, "name": name}',
     '            out.bindings.append({"type": TEXT, "name": name, "text": values[name]})\n'
     '            out.expect_managed[name] = {"type": TEXT, "name": name}', UNIT),
    ("an unchanged secret_text re-sent on the bulk path", WP,
     '(name, {"name": name, "type": TEXT, "text": values[name]}) for name in chg.set_values]',
     '(name, {"name": name, "type": TEXT, "text": values[name]}) for name in values]', UNIT),
    ("the fake hiding a plain_text binding's text", FAKE,
     '    if binding.get("type") in SECRET_TYPES:\n        return {k: v for k, v in binding.items()',
     '    if True:\n        return {k: v for k, v in binding.items()', UNIT),
]

# Mutants that survived the last full cosmic-ray run (mutation/survivors.txt), each applied as it was
# made, with the test written for it since.
BREAKS += [
    ("survivor: a delete writes although none of its bindings is live", BP,
     "        if not managed & set(live):", "        if not managed | set(live):", UNIT),
    # ("a delete of external bindings only calls the API" is equivalent since an empty batch list
    # makes no call: test_delete_of_only_external_bindings_makes_no_call still holds it.)
    ("survivor: a delete with versions in flight needs 10214 and 10215 at once", BP,
     "its bindings with it\n            codes = error_codes(exc)\n"
     "            if VERSION_NOT_DEPLOYED_SECRETS in codes or VERSION_NOT_DEPLOYED_SETTINGS in codes:",
     "its bindings with it\n            codes = error_codes(exc)\n"
     "            if VERSION_NOT_DEPLOYED_SECRETS in codes and VERSION_NOT_DEPLOYED_SETTINGS in codes:",
     IN_FLIGHT),
    ("survivor: the delete's version message loses its stack", BP,
     'x["type"] == STORE)))\n        message = chg.message(str(props.get("stack") or "?"))',
     'x["type"] == STORE)))\n        message = chg.message(str(props.get("stack") and "?"))', UNIT),
    ("survivor: the restore's version message loses its stack", BP,
     "restore))} ({s.props.get('stack') or '?'})", "restore))} ({s.props.get('stack') and '?'})", FAULTS),
    ("survivor: values given as Outputs", WB,
     "    if isinstance(values, Mapping) and all(", "    if not isinstance(values, Mapping) and all(", UNIT),
    ("survivor: an external binding reported as unmanaged", BP,
     "and n not in previously)", "or n not in previously)", UNIT),
    ("survivor: refresh reports managed bindings as unmanaged", BP,
     'for b in props.get("bindings") or []})', 'for b in props.get("bindings") and []})', UNIT),
    ("survivor: a new script_name unseen by Diff", WB,
     'changed = bool(replaces) or olds.get("script_name")', 'changed = bool(replaces) and olds.get("script_name")', UNIT),
    ("survivor: an account move deletes before it creates", WB,
     "delete_before_replace=False)", "delete_before_replace=True)", UNIT),
    ("survivor: a failed deploy of the copied versions passed on raw", BP,
     "            made = s.api.deploy(uploaded, message)\n        except APIError as exc:",
     "            made = s.api.deploy(uploaded, message)\n        except KeyError as exc:", IN_FLIGHT),
    ("survivor: the rollback hint picks by version id, not traffic", BP,
     "key=lambda v: v[1])", "key=lambda v: v[0])", IN_FLIGHT),
    ("survivor: a binding dropped under a later deploy is lost silently (the code was fixed)", BP,
     "            dropped = [name for name in dropped if name not in newest and name not in restore]",
     "            dropped = []", FAULTS),
    ("survivor: a race repaired from our own version instead of the one it replaced", BP,
     "replaced = details[mine + 1]", "replaced = details[mine | 1]", FAULTS),
    ("survivor: a binding dropped with no Date header is not restored", BP,
     "        if len(since) <= 1:\n            base", "        if len(since) == 1:\n            base", FAULTS),
    ("survivor: value_changed_at stamps with microseconds", BP,
     "replace(microsecond=0).isoformat()", "replace(microsecond=1).isoformat()", UNIT),
    ("survivor: a mapping of Outputs taken for plain values", WB,
     "    if isinstance(values, Mapping) and all(", "    if isinstance(values, Mapping) or all(", UNIT),
    ("survivor: a versions listing that fails after the write passed on raw", BP,
     "            versions = s.api.versions()\n        except APIError as exc:",
     "            versions = s.api.versions()\n        except KeyError as exc:", FAULTS),
    ("survivor: a drop under a later deploy explained as no earlier version", BP,
     '"no earlier version was found to restore them from" if len(since) <= 1 else',
     '"no earlier version was found to restore them from" if len(since) <= 2 else', FAULTS),
    ("survivor: an annotation cut shorter than its limit", API,
     'data[: limit - 3].decode("utf-8", errors="ignore")', 'data[: limit - 4].decode("utf-8", errors="ignore")', PLAN),
    ("survivor: refresh forgets when each value last changed", BP,
     'stamps = props.get("value_changed_at") or {}', 'stamps = props.get("value_changed_at") and {}', UNIT),
    ("survivor: a binding moved to the store also named as added", WP,
     "n not in self.to_store and n not in self.to_text]", "n not in self.to_store or n not in self.to_text]", PLAN),
    ("survivor: a copy that cannot be uploaded passed on raw", BP,
     "                                      f\"{message}, copy of {version_id} at {percentage:g}%\")\n            except APIError as exc:",
     "                                      f\"{message}, copy of {version_id} at {percentage:g}%\")\n            except KeyError as exc:",
     IN_FLIGHT),
    ("survivor: exactly six names end in 'and 0 more'", WP,
     "if len(ordered) > SHOWN_NAMES", "if len(ordered) >= SHOWN_NAMES", PLAN),
    ("survivor: an unreadable version time stops the apply", API,
     "    except ValueError:\n        return None", "    except KeyError:\n        return None", UNIT),
    # The rollout writes: a copy must be the version it copies, and never overrule someone's deploy.
    ("a copy without the version's placement", WP,
     '        settings["placement"] = dict(placement)  # mode and hints', '        pass  # mode and hints',
     "tests/test_rollout_copies.py"),
    ("a copy without the version's limits, usage model or compatibility", WP,
     "    for key in RUNTIME_CARRIED:\n        if not _empty(runtime.get(key)):",
     "    for key in ():\n        if not _empty(runtime.get(key)):", "tests/test_rollout_copies.py"),
    ("a copy made although its Durable Object exports are migrating", WP,
     "        if moving:\n            refused.append(", "        if False:\n            refused.append(",
     "tests/test_rollout_copies.py"),
    ("the copies deployed over a deployment that landed while they were made", BP,
     "        if now is None or now.id != deployed.id:", "        if now is None:", "tests/test_rollout_copies.py"),
    ("a deployment that landed just before ours left replaced", BP,
     "        if raced is not None and raced.id != deployed.id:", "        if False:", "tests/test_rollout_copies.py"),
    ("a 404 for a binding taken for a Worker that is gone", "stacks/api/client.py",
     "cloudflare.NotFoundError) and WORKER_NOT_FOUND in error_codes(exc)", "cloudflare.NotFoundError)",
     "tests/test_rollout_copies.py"),
]


def main(words: list[str]) -> int:
    survived = 0
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "tree"
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        for name in filter(None, files.decode().split("\0")):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
        (work / ".venv").symlink_to(ROOT / ".venv")
        for label, path, original, broken, tests in BREAKS:
            if words and not any(w in label for w in words):
                continue
            target = work / path
            source = target.read_text()
            if source.count(original) != 1:
                print(f"{label}: the original text is not in {path} exactly once: update this script")
                return 2
            target.write_text(source.replace(original, broken))
            try:
                run = subprocess.run([".venv/bin/python", "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
                                      tests], cwd=work, capture_output=True, text=True,
                                     env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            finally:
                target.write_text(source)
            failed = [line.removeprefix("FAILED ").split(" - ")[0] for line in run.stdout.splitlines()
                      if line.startswith("FAILED ")]
            if failed:
                print(f"{label}: caught by {failed[0]}")
            else:
                survived += 1
                print(f"{label}: NOT CAUGHT")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
