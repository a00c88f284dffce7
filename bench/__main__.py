"""python -m bench [--quick] [--write-readme]: counts, ratios and timings for secrets-plane.

Counts (resources, settings writes, Worker versions) are deterministic and asserted by
tests/test_bench_counts.py; times are this machine's and live only here and in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.estate import manifest, write_project
from bench.scenarios import run_scenarios

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

_EVAL = r"""
import json, resource, statistics, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench.estate import STACK, config
from stacks.resources.offline import run_program
import yaml
project = Path(sys.argv[2]); runs = int(sys.argv[3])
data = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
times = []
for _ in range(runs):
    t = time.perf_counter()
    result = run_program(project, STACK, config(data), ["secrets-plane:values"])
    times.append(time.perf_counter() - t)
print(json.dumps({"median_s": statistics.median(times), "resources": len(result.resources),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def evaluate(workdir: Path, s: int, w: int, k: int, backend: str, runs: int) -> dict:
    project = write_project(workdir / f"eval-{s}-{w}-{k}-{backend}", manifest(s, w, k, backend))
    out = subprocess.run([sys.executable, "-c", _EVAL, str(ROOT), str(project), str(runs)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def plan_time(workdir: Path, s: int, w: int, k: int, backend: str, runs: int = 3) -> tuple[float, float]:
    """`python -m stacks plan` as a user runs it, whole process: (median seconds, peak RSS MB)."""
    import resource

    project = write_project(workdir / f"plan-{backend}", manifest(s, w, k, backend))
    times, peak = [], 0.0
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), "plan", "--stack", "bench",
                        "--format", "json"], capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return statistics.median(times), peak


def validate_time(workdir: Path, s: int, w: int, k: int, runs: int = 5) -> float:
    project = write_project(workdir / "validate", manifest(s, w, k, "store"))
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), "validate"],
                       capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--write-readme", action="store_true", help="replace the README's benchmark section")
    args = parser.parse_args()
    lines: list[str] = []
    cpu = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    lines.append(f"Measured by `python -m bench` on {cpu} (a shared machine: times vary, counts do not).")
    lines.append("")
    # Grow W at fixed S and k, then S at fixed W: time per binding should stay flat if the
    # program (validation, desired state, registration) is linear.
    sizes = ([(100, 25, 25), (100, 50, 25), (100, 100, 25), (100, 200, 25), (25, 200, 25), (50, 200, 25)]
             if not args.quick else [(10, 10, 5), (20, 20, 5)])
    runs = 3
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        lines += ["Program evaluation under Pulumi mocks (median of 3 runs, its own process):", "",
                  "| S secrets | W Workers | k per Worker | backend | resources | per-(Worker, secret) design | "
                  "eval time | per binding | peak RSS |", "|---|---|---|---|---|---|---|---|---|"]
        per_binding: dict[tuple[int, int, str], float] = {}
        for s, w, k in sizes:
            for backend in ("legacy", "store"):
                r = evaluate(workdir, s, w, k, backend, runs)
                per_pair = w * k + (s if backend == "store" else 0)
                per_binding[(s, w, backend)] = r["median_s"] / (w * k)
                lines.append(f"| {s} | {w} | {k} | {backend} | {r['resources']} | {per_pair} | "
                             f"{r['median_s']:.2f} s | {1000 * r['median_s'] / (w * k):.2f} ms | "
                             f"{r['peak_rss_mb']:.0f} MB |")
        if not args.quick:
            for backend in ("legacy", "store"):
                ratio = per_binding[(100, 200, backend)] / per_binding[(100, 25, backend)]
                lines.append(f"\nLinearity ({backend}): time per binding at W=200 / at W=25 = {ratio:.2f} "
                             "(1.0 is perfectly linear; a quadratic step would make it about 8).")
        s, w, k = (100, 200, 25) if not args.quick else sizes[-1]
        lines += ["", f"`validate` of the largest manifest ({s} secrets, {w} Workers, {k} bindings each, "
                      f"{w * k} bindings): {validate_time(workdir, s, w, k):.2f} s median of 5 (whole process)."]
        for backend in ("legacy", "store"):
            seconds, rss = plan_time(workdir, s, w, k, backend)
            lines.append(f"`plan --format json` of it, {backend} backend: {seconds:.2f} s median of 3, peak RSS "
                         f"{rss:.0f} MB (whole process; target under 10 s and 500 MB).")
        lines.append("")
        ss, sw, sk = (100, 200, 25) if not args.quick else (10, 5, 4)
        lines += [f"Apply scenarios at S={ss}, W={sw}, k={sk}, through the real dynamic-provider host and the fake "
                  "Cloudflare API (counted there), against `wrangler secret put` (one call and one version per "
                  "Worker and secret):", "",
                  "| scenario | resources created / updated / deleted | settings writes | Worker versions | "
                  "wrangler calls | wrangler versions | versions ratio |", "|---|---|---|---|---|---|---|"]
        for c in run_scenarios(workdir / "scenarios", ss, sw, sk):
            if c.worker_versions and c.wrangler_versions != c.worker_versions:
                ratio = f"{c.wrangler_versions / c.worker_versions:.1f}x fewer"
            elif c.wrangler_versions == c.worker_versions:
                ratio = "same"
            else:
                ratio = f"0 instead of {c.wrangler_versions}"
            lines.append(f"| {c.scenario} | {c.created} / {c.updated} / {c.deleted} | {c.settings_writes} | "
                         f"{c.worker_versions} | {c.wrangler_calls} | {c.wrangler_versions} | {ratio} |")
    text = "\n".join(lines)
    print(text)
    if args.write_readme:
        readme = README.read_text()
        start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
        README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
