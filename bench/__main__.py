"""python -m bench [--quick] [--write-docs]: counts, ratios and timings for secrets-plane.

Counts (API calls, writes, Worker versions, resources) are deterministic and asserted by
tests/test_bench_counts.py; times are this machine's and live only here and in docs/performance.md.
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

from fake_cloudflare import StoreSecret

import bench  # noqa: F401  (puts the tests' fake API and provider host on the path)
from bench import wrangler
from bench.engine import ENGINE_PARALLELISM
from bench.estate import STORE_ID, manifest, write_project
from bench.scenarios import LATENCY_S, ci_run, counted, overlap, preflight_calls, seeded_fake, staged_rollout, timed

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
WORKFLOW_BEGIN, WORKFLOW_END = "<!-- bench:workflow:begin -->", "<!-- bench:workflow:end -->"

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


def evaluate(workdir: Path, s: int, w: int, k: int, backend: str, runs: int) -> dict[str, float]:
    project = write_project(workdir / f"eval-{s}-{w}-{k}-{backend}", manifest(s, w, k, backend))
    out = subprocess.run([sys.executable, "-c", _EVAL, str(ROOT), str(project), str(runs)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def process_times(commands: dict[str, list[str]], runs: int, bytecode: Path) -> dict[str, tuple[float, float]]:
    """Per command, (median seconds, peak RSS MB) of a whole `python ARGS` process. The commands
    run in turns (a, b, c, a, b, c, ...) so a noisy neighbour weighs on each alike, which keeps
    the ratios between them honest on a shared machine. Every module's bytecode is compiled once,
    into `bytecode`, by an untimed first round: as on any machine after the first run (an install
    compiles it; a checkout writes it on first use), even where PYTHONDONTWRITEBYTECODE is set."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    for args in commands.values():
        subprocess.run([sys.executable, *args], capture_output=True, cwd=ROOT, env=env, check=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    peak: dict[str, float] = dict.fromkeys(commands, 0.0)
    for _ in range(runs):
        for name, args in commands.items():
            with tempfile.TemporaryFile() as errors:
                started = time.perf_counter()
                child = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT,
                                         env=env)
                # wait4: this child's own peak RSS (RUSAGE_CHILDREN would be the largest of all so far).
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(status)
                times[name].append(time.perf_counter() - started)
                if child.returncode != 0:
                    errors.seek(0)
                    raise RuntimeError(f"{name} failed: {errors.read().decode(errors='replace')}")
            peak[name] = max(peak[name], usage.ru_maxrss / 1024)
    return {name: (statistics.median(times[name]), peak[name]) for name in commands}


def table(header: list[str], rows: list[list[object]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def put_equivalent(name: str, s: int, w: int, k: int) -> tuple[int, int] | None:
    """`wrangler secret put` per (Worker, secret), computed from the manifests: (calls, versions)."""
    base, grown = manifest(s, w, k), manifest(s, w, k, extra_workers=1)
    shrunk = manifest(s, w, k, extra_workers=1, drop_secret="S001")
    holders = lambda data, secret: sum(1 for x in data["workers"].values() if secret in x["secrets"])  # noqa: E731
    bindings = lambda data: sum(len(x["secrets"]) for x in data["workers"].values())  # noqa: E731
    if name.startswith("first legacy apply"):
        return bindings(base), bindings(base)
    if name.startswith("rotate S000 (legacy"):
        return holders(base, "S000"), holders(base, "S000")
    if name == "add one Worker":
        return len(grown["workers"][f"w{w:03d}"]["secrets"]), len(grown["workers"][f"w{w:03d}"]["secrets"])
    if name.startswith("remove one secret"):
        return holders(grown, "S001"), holders(grown, "S001")
    if name.startswith("flip"):
        # create each store secret; redeploy each Worker with its secrets_store_secrets; delete each
        # secret_text copy (one version each).
        n = bindings(shrunk)
        return len(shrunk["secrets"]) + len(shrunk["workers"]) + n, len(shrunk["workers"]) + n
    if name.startswith("rotate S000 (store"):
        return 1, 0  # `wrangler secrets-store secret update`: once, as here
    return None


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes, no wrangler runs (a smoke run)")
    parser.add_argument("--write-docs", action="store_true", help="replace the benchmark section of docs/performance.md")
    parser.add_argument("--workflow", action="store_true",
                        help="only the workflow's jobs, step by step (with --write-docs: only their table)")
    args = parser.parse_args()
    if args.workflow:
        return workflow_only(args.quick, args.write_docs)
    lines: list[str] = []
    out = lines.append
    cpu = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    out(f"Measured by `python -m bench` on {cpu} (a shared machine: times vary, counts do not).")
    out("")
    s, w, k = (100, 500, 25) if not args.quick else (10, 6, 4)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)

        # ---- the program, offline -------------------------------------------------------------
        sizes = ([(100, 25, 25), (100, 50, 25), (100, 100, 25), (100, 200, 25), (100, 500, 25)] if not args.quick
                 else [(10, 5, 4), (10, 10, 4)])
        per_binding: dict[tuple[int, str], float] = {}
        rows = []
        for size in sizes:
            for backend in ("legacy", "store"):
                r = evaluate(workdir, *size, backend, 3)
                per_binding[(size[1], backend)] = r["median_s"] / (size[1] * size[2])
                rows.append([size[0], size[1], size[2], backend, int(r["resources"]), f"{r['median_s']:.2f} s",
                             f"{1000 * r['median_s'] / (size[1] * size[2]):.2f} ms", f"{r['peak_rss_mb']:.0f} MB"])
        out("Program evaluation under Pulumi mocks (median of 3 runs, its own process):")
        out("")
        lines += table(["S secrets", "W Workers", "k per Worker", "backend", "resources", "eval time", "per binding",
                        "peak RSS"], rows)
        if not args.quick:
            for backend in ("legacy", "store"):
                ratio = per_binding[(500, backend)] / per_binding[(25, backend)]
                out("")
                out(f"Linearity ({backend}): time per binding at W=500 / at W=25 = {ratio:.2f} (1.0 is linear; a "
                    "quadratic step would make it about 20).")
        project = write_project(workdir / "offline", manifest(s, w, k, "legacy"))
        plan_projects = {backend: write_project(workdir / f"plan-{backend}", manifest(s, w, k, backend))
                         for backend in ("legacy", "store")}
        measured = process_times({
            "floor": ["-c", "import pulumi_cloudflare"],
            # `plan` turns the cyclic collector off for its whole run, imports included: this is its
            # floor on equal terms, so the ratio to it is what running the program adds.
            "floor_nogc": ["-c", "import gc; gc.disable(); import pulumi_cloudflare"],
            "validate": ["-m", "stacks", "--project-dir", str(project), "validate"],
            **{backend: ["-m", "stacks", "--project-dir", str(path), "plan", "--stack", "bench", "--format", "json"]
               for backend, path in plan_projects.items()},
        }, 7, workdir / "bytecode")
        floor, floor_nogc, validate = measured["floor"][0], measured["floor_nogc"][0], measured["validate"][0]
        out("")
        out(f"Offline commands on the largest manifest ({s} secrets, {w} Workers, {k} bindings each), whole process, "
            "median of 7, the commands taking turns, bytecode compiled by an untimed first round:")
        out("")
        rows = [["`python -c 'import pulumi_cloudflare'` (the floor of anything that runs the program)",
                 f"{floor:.2f} s", "", ""],
                ["the same import with the cyclic collector off, as `plan` runs", f"{floor_nogc:.2f} s", "", ""],
                ["`validate` (imports neither Pulumi nor the SDKs)", f"{validate:.2f} s",
                 f"{measured['validate'][1]:.0f} MB", "under 0.3 s"]]
        for backend in ("legacy", "store"):
            seconds, rss = measured[backend]
            rows.append([f"`plan --format json`, {backend}", f"{seconds:.2f} s",
                         f"{seconds / floor:.2f}x the floor ({seconds / floor_nogc:.2f}x the import without the "
                         f"collector), {rss:.0f} MB", "within 1.2x the floor, under 400 MB"])
        lines += table(["command", "time", "ratio, peak RSS", "target"], rows)

        # ---- API calls per change, counted ---------------------------------------------------
        out("")
        out(f"API calls per change at S={s}, W={w}, k={k}, counted at the fake Cloudflare API (reads included), "
            "through the real dynamic-provider host; the `wrangler secret put` columns are computed from the "
            "manifests (one call and one version per Worker and secret):")
        out("")
        rows = []
        for c in counted(workdir / "counted", s, w, k):
            put = put_equivalent(c.scenario, s, w, k)
            rows.append([c.scenario, f"{c.created} / {c.updated} / {c.deleted}", c.api_calls,
                         f"{c.bulk_writes} / {c.settings_writes}", c.worker_versions,
                         put[0] if put else "-", put[1] if put else "-"])
        lines += table(["change", "resources created / updated / deleted", "API calls", "secrets-bulk / settings "
                        "writes", "Worker versions", "wrangler calls (computed)", "wrangler versions (computed)"], rows)

        # ---- rotation with overlap -------------------------------------------------------------
        out("")
        out(f"Rotation with overlap at S={s}, W={w}, k={k}: S000 (bound by every Worker) with `overlap_days`, so each "
            "Worker also binds S000_PREVIOUS; counted the same way:")
        out("")
        rows = [[c.scenario, c.store_created, c.store_updated, c.api_calls, f"{c.bulk_writes} / {c.settings_writes}",
                 c.worker_versions] for c in overlap(workdir / "overlap", s, w, k)]
        lines += table(["change", "store secrets created", "store secrets updated", "API calls",
                        "secrets-bulk / settings writes", "Worker versions"], rows)

        # ---- phased adoption ------------------------------------------------------------------
        out("")
        out("Staged rollout of the shipped estate's staging stack (5 Workers, 25 credentials), each step counted "
            "the same way:")
        out("")
        rows = [[c.scenario, f"{c.created} / {c.updated} / {c.deleted}", c.store_created, c.api_calls,
                 f"{c.bulk_writes} / {c.settings_writes}", c.worker_versions] for c in staged_rollout(workdir / "rollout")]
        lines += table(["step", "resources created / updated / deleted", "store secrets created", "API calls",
                        "secrets-bulk / settings writes", "Worker versions"], rows)

        # ---- real conditions --------------------------------------------------------------------
        out("")
        out(f"Under real conditions: {int(LATENCY_S * 1000)} ms per request and Cloudflare's limit (1,200 requests "
            f"per 5 minutes, then every call 429 for five minutes), the engine sending {ENGINE_PARALLELISM} operations "
            "at a time (the dynamic-provider host serves 4 at once), each change in a fresh limit window:")
        out("")
        ours = timed(workdir / "timed", s, w, k)
        rows = [[c.scenario, c.api_calls, f"{c.seconds:.1f} s", f"{c.waited_s:.0f} s", c.rate_limited] for c in ours]
        ci = ci_run(workdir / "ci", s, w, k)
        pre = preflight_calls(s, w, k)
        rows.append([ci.cost.scenario, ci.cost.api_calls, f"{ci.cost.seconds:.1f} s", f"{ci.cost.waited_s:.0f} s",
                     ci.cost.rate_limited])
        lines += table(["change", "API calls", "wall-clock", "paced (waited for the window)", "429 answers"], rows)
        out("")
        out(f"The pacing run above (no job of the workflow, which reads only what it writes: see below), step by step: the refresh read {ci.refresh_calls} calls "
            f"({ci.refresh_calls / w:.2f} per Worker), the flip wrote {ci.flip_calls}, the canary read "
            f"{ci.canary_calls} ({ci.canary_calls / w:.2f} per Worker); it spanned {ci.windows} limit window(s) and "
            f"the provider told the engine of {ci.waits_shown} wait(s) as they happened. "
            f"`preflight` before that flip (the store still empty) read {pre} calls ({pre - 2 * w} + 2 per Worker).")
        by_name = {c.scenario: c for c in ours}

        # ---- wrangler, run for real ----------------------------------------------------------
        if not args.quick and wrangler.available():
            out("")
            out(f"The same account, the same latency and limit, with the pinned wrangler ({wrangler.version()}) run "
                "for real, one invocation after another:")
            out("")
            data = manifest(s, w, k)
            fake = seeded_fake(data, LATENCY_S, limited=True)
            try:
                scripts = [wrangler.script_name(x) for x in data["workers"].values()]
                bulk = wrangler.first_apply_bulk(fake, {wrangler.script_name(x): x["secrets"] for x in data["workers"].values()},
                                                 workdir)
                from fake_cloudflare import RateLimit

                fake.ratelimit = RateLimit()
                put = wrangler.rotate_put(fake, scripts, "S000")
                fake.add_store_secret(STORE_ID, StoreSecret(id="f" * 32, name="S000", scopes=["workers"]))
                fake.ratelimit = RateLimit()
                store = wrangler.rotate_store(fake, STORE_ID, "f" * 32)
            finally:
                fake.stop()
            per_put = put.seconds / max(put.invocations, 1)
            total = sum(len(x["secrets"]) for x in data["workers"].values())
            lockouts = max(0, (total - 1) // 1200)
            rows = [[bulk.what + " (first apply)", bulk.invocations, bulk.api_calls, bulk.versions, f"{bulk.seconds:.0f} s",
                     bulk.failures],
                    [put.what + " (legacy rotation)", put.invocations, put.api_calls, put.versions, f"{put.seconds:.0f} s",
                     put.failures],
                    [store.what + " (store rotation)", store.invocations, store.api_calls, store.versions,
                     f"{store.seconds:.1f} s", store.failures],
                    [f"wrangler secret put per (Worker, secret) (first apply; COMPUTED: {total} x {per_put:.2f} s measured "
                     f"above, plus {lockouts} five-minute lockouts for {total} calls over the 1,200 limit)", total, total,
                     total, f"{total * per_put + lockouts * 300:.0f} s", "-"]]
            lines += table(["wrangler", "invocations", "API calls", "Worker versions", "wall-clock", "failed"], rows)
            out("")
            out("Time to rotate a compromised credential bound by every Worker, across the estate:")
            out("")
            rows = [["store (Secrets Store)", f"{by_name['rotate S000 (store)'].seconds:.1f} s, "
                     f"{by_name['rotate S000 (store)'].api_calls} call, 0 Worker versions",
                     f"{store.seconds:.1f} s, {store.api_calls} call"],
                    [f"legacy ({w} Workers)", f"{by_name['rotate S000 (legacy, bound by all Workers)'].seconds:.1f} s, "
                     f"{by_name['rotate S000 (legacy, bound by all Workers)'].api_calls} calls",
                     f"{put.seconds:.0f} s, {put.api_calls} calls ({put.invocations} `secret put`)"]]
            lines += table(["backend", "secrets-plane (`rotate`, one `pulumi up --target`)", "wrangler"], rows)
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        page = PAGE.read_text()
        start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
        PAGE.write_text(page[:start] + "\n" + text + "\n" + page[end:])
    return 0


def workflow_only(quick: bool, write: bool) -> int:
    from bench.workflow import section

    s, w, k = (100, 500, 25) if not quick else (10, 12, 4)
    with tempfile.TemporaryDirectory() as tmp:
        text = "\n".join(section(Path(tmp), s, w, k))
    print(text)
    if write:
        page = PAGE.read_text()
        start, end = page.index(WORKFLOW_BEGIN) + len(WORKFLOW_BEGIN), page.index(WORKFLOW_END)
        PAGE.write_text(page[:start] + "\n" + text + "\n" + page[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())


