"""Narrow a fresh cosmic-ray session to the mutants that survived an earlier one (matched by
module, operator and occurrence), so tests written for those survivors are checked without
re-running every mutant. Usage: python mutation/only_survivors.py NEW_SESSION OLD_SESSION"""

from __future__ import annotations

import sys

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult


def main(new: str, old: str) -> int:
    with use_db(old) as db:
        survived = {(str(m.module_path), m.operator_name, m.occurrence)
                    for item, result in db.completed_work_items if result.test_outcome == TestOutcome.SURVIVED
                    for m in item.mutations}
    kept = 0
    with use_db(new) as db:
        for item in db.work_items:
            if all((str(m.module_path), m.operator_name, m.occurrence) in survived for m in item.mutations):
                kept += 1
            else:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    print(f"{kept} of {len(survived)} earlier survivors to run again")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
