"""Mark mutants inside type annotations as skipped in a cosmic-ray session.

The mutated modules use `from __future__ import annotations`, so an annotation is never evaluated:
`str | None` turned into `str - None` runs exactly as before. Counting those as survivors would
only hide the mutants that matter."""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

Span = tuple[tuple[int, int], tuple[int, int]]


@cache
def annotation_spans(path: Path) -> list[Span]:
    spans: list[Span] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        annotations: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations += [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
            annotations += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for a in annotations:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def main(session: str) -> int:
    skipped = 0
    with use_db(session) as db:
        for item in db.work_items:
            if all(any(start <= tuple(m.start_pos) and tuple(m.end_pos) <= end
                       for start, end in annotation_spans(Path(m.module_path)))
                   for m in item.mutations):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    print(f"skipped {skipped} mutants inside type annotations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
