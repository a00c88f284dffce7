"""Narrow a fresh cosmic-ray session to the mutants that survived an earlier one, so tests written
for those survivors are checked without re-running every mutant. A mutant is matched by module,
operator, the text of the line it mutates and its column: tests and fixes made since may have moved
lines or added operators before it, which would shift line numbers and occurrence counts.
Usage: python mutation/only_survivors.py NEW_SESSION OLD_SESSION"""

from __future__ import annotations

import sys
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkResult

Key = tuple[str, str, str, int]


def mutated_line(diff: str) -> str:
    """The first line the mutation removed: the line at the mutation's start."""
    body = diff.split("\n@@", 1)[1]
    return next(line[1:] for line in body.splitlines()[1:] if line.startswith("-"))


def key(m: MutationSpec, line: str) -> Key:
    return str(m.module_path), m.operator_name, line.rstrip(), m.start_pos[1]


def main(new: str, old: str) -> int:
    with use_db(old) as db:
        survived = {key(item.mutations[0], mutated_line(result.diff or ""))
                    for item, result in db.completed_work_items
                    if result.test_outcome == TestOutcome.SURVIVED and len(item.mutations) == 1}
    sources: dict[str, list[str]] = {}
    kept = 0
    with use_db(new) as db:
        for item in db.work_items:
            m = item.mutations[0]
            lines = sources.setdefault(str(m.module_path), Path(m.module_path).read_text().splitlines())
            if len(item.mutations) == 1 and key(m, lines[m.start_pos[0] - 1]) in survived:
                kept += 1
            else:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    print(f"{kept} mutants match the {len(survived)} earlier survivors (a survivor whose line changed is gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
