"""Command line: `python -m stacks <command>` or `secrets-plane <command>`."""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from .core.errors import CloudflareOperationError, PlaneError, Problem
from .core.estate import MANIFEST_ENV, MANIFEST_FILE, Estate, load_estate
from .core.text import terminal

if TYPE_CHECKING:
    from .core.scope import Scope
    from .live.account import LiveAccount

# Commands import what they use when they run: `validate` and `schema` import neither Pulumi nor
# the Cloudflare SDK, which alone take seconds to import.


PROJECT_FILE = "Pulumi.yaml"


def find_project(start: Path) -> Path:
    """The folder holding Pulumi.yaml: `start` or the nearest one above it, as git finds its root."""
    looked = []
    for folder in [start, *start.parents]:
        if (folder / PROJECT_FILE).is_file():
            return folder
        looked.append(str(folder))
    raise PlaneError.at(PROJECT_FILE, "", f"no {PROJECT_FILE} in {start} or any folder above it (looked in "
                        f"{', '.join(looked)})", "run the command inside the secrets-plane project, or pass "
                        "--project-dir PATH")


def _project(args: argparse.Namespace) -> Path:
    if getattr(args, "project_dir", None):
        return Path(args.project_dir).resolve()
    return find_project(Path.cwd().resolve())


@contextmanager
def _collector_paused() -> Iterator[None]:
    """For a command that reads the estate and exits: nearly every object it makes lives until
    the end, so the cyclic collector would only walk them, again and again (a tenth of `plan` at
    200 Workers), and once more as the interpreter exits. On the way out they are frozen: an
    in-process caller gets its collector back without one last walk over them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def cmd_validate(args: argparse.Namespace) -> int:
    with _collector_paused():
        return _validate(args)


def _validate(args: argparse.Namespace) -> int:
    try:
        estate = load_estate(_project(args), args.manifest, require_values=args.require_values)
    except PlaneError as exc:
        raise PlaneError(_by_file(exc.problems)) from None
    m = estate.manifest.manifest
    for warning in estate.problems.warnings:
        print(warning.render(), file=sys.stderr)
    bindings = sum(len(w.binding_map()) for w in m.workers.values())
    print(f"ok: {len(m.secrets)} secrets, {len(m.workers)} workers, {bindings} bindings, "
          f"stacks {', '.join(sorted(estate.stacks))}, backend {m.backend}, "
          f"digest {m.digest()[:12]}, {len(estate.problems.warnings)} warning(s)")
    for stack in sorted(estate.stacks):
        for overlap in estate.desired_state(stack).overlaps:
            print(terminal(f"  {stack}: {overlap.describe()}"))
    return 0


def _by_file(problems: Sequence[Problem]) -> list[Problem]:
    """Every error of one run, grouped by file (in the order the files first appear), by line."""
    order = {file: i for i, file in reversed(list(enumerate(p.location.file for p in problems)))}
    return sorted(problems, key=lambda p: (order[p.location.file], p.location.line or 0))


def cmd_plan(args: argparse.Namespace) -> int:
    with _collector_paused():
        from .resources.plan import build_plan, render_json, render_text

        project = _project(args)
        estate = load_estate(project, args.manifest)
        stack = _stack(estate, project, args.stack)
        plan = build_plan(estate, stack, args.backend, args.manifest)
        print(render_json(plan) if args.format == "json" else render_text(plan))
        return 0


def _stack(estate: Estate, project: Path, stack: str | None) -> str:
    """The stack a command names, checked: a missing `--stack` lists the stacks there are."""
    if not stack:
        raise PlaneError.at("--stack", "", "this command needs a stack",
                            f"pass --stack with one of: {', '.join(sorted(estate.stacks))}")
    if stack not in estate.stacks:
        from .core.stack_config import load_stack_file

        load_stack_file(project, stack)  # raises the "unknown stack" error with a suggestion
    return stack


def cmd_canary(args: argparse.Namespace) -> int:
    from .live.canary import render, run_canary
    from .live.progress import Progress

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    desired = estate.desired_state(stack)
    health = {name: w.health_url[stack] for name, w in estate.manifest.manifest.workers.items()
              if stack in w.health_url}
    scope = _scope(args)
    verified = None
    if args.scope and scope is not None and not scope.full:
        # After the apply of a scoped run: the versions its writes read back (core/verified.py).
        from .core.verified import verified_of
        from .ops.scope import stack_outputs

        try:
            outputs = stack_outputs(project, stack)
        except PlaneError:
            outputs = None  # no Pulumi CLI here: the canary reads without a record
        verified = verified_of(outputs)
        if outputs is None:
            print(f"canary {stack}: the stack outputs could not be read: every served version is read",
                  file=sys.stderr)
    with Progress(f"canary {stack}", len(desired.workers)) as progress:
        report = run_canary(desired, _live(estate, stack), health, wait_s=args.wait, step=progress.step,
                            scope=scope, verified=verified)
    print(render(report))
    return 0 if report.ok else 1


def _scope(args: argparse.Namespace) -> Scope | None:
    """`--scope FILE` (written by `stacks scope`), `--all`, or neither: None, every Worker."""
    from .core.json_source import load_json_text
    from .core.scope import Scope

    if args.all:
        return Scope.everything("asked for with --all")
    if not args.scope:
        return None
    fix = f"write it again: python -m stacks scope --stack {args.stack or '<stack>'} --output {args.scope} --force"
    try:
        return Scope.from_json(load_json_text(Path(args.scope).read_text(), args.scope, fix))
    except OSError as exc:
        raise PlaneError.at(args.scope, "", f"cannot read the scope ({type(exc).__name__})", fix) from None
    except ValueError as exc:
        if isinstance(exc, PlaneError):
            raise
        raise PlaneError.at(args.scope, "", f"not a scope file ({exc})", fix) from None


def cmd_scope(args: argparse.Namespace) -> int:
    import json

    from .files import write_text
    from .ops.scope import derive_scope

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    desired = estate.desired_state(stack)
    run = derive_scope(project, stack, desired, _live(estate, stack), everything=args.all,
                       refresh=not args.no_refresh)
    for line in run.said:
        print(f"scope {stack}: {line}", file=sys.stderr)
    if run.refreshed:
        print(f"scope {stack}: refreshed {', '.join(run.refreshed)}", file=sys.stderr)
    document = json.dumps(run.scope.as_json(), indent=2) + "\n"
    if args.output:
        write_text(Path(args.output), document, overwrite=args.force, force_flag="--force")
    else:
        print(document, end="")
    print(f"scope {stack}: {run.scope.describe()}", file=sys.stderr)
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    from .api.ratelimit import PACER
    from .live.preflight import render_json, render_text, run_preflight
    from .live.progress import Progress

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    desired = estate.desired_state(stack)
    before = PACER.total.requests
    scope = _scope(args)
    with Progress(f"preflight {stack}", len(desired.workers)) as progress:
        report = run_preflight(estate.manifest.manifest, desired, _live(estate, stack), progress.step,
                               scope=scope, others=_other_stacks_scripts(estate, stack))
    report.calls = PACER.total.requests - before
    print(render_json(report) if args.format == "json" else render_text(report))
    return 0 if report.ok else 1


def _live(estate: Estate, stack: str) -> LiveAccount:
    """The stack's account, for a read-only check; the sample's ids are refused before any call to
    Cloudflare's own API (core/sample_ids.py)."""
    from .api.base_url import reaches_cloudflare
    from .core.sample_ids import errors_before_cloudflare
    from .live.account import LiveAccount

    if reaches_cloudflare():
        problems = errors_before_cloudflare(estate.stacks[stack])
        if problems:
            raise PlaneError(problems)
    return LiveAccount(estate.stacks[stack].settings.account_id)


def _other_stacks_scripts(estate: Estate, stack: str) -> frozenset[str]:
    """The scripts the other stacks bind and this one does not."""
    own = {w.script_name for w in estate.desired_state(stack).workers}
    return frozenset(w.script_name for other in estate.stacks if other != stack
                     for w in estate.desired_state(other).workers if w.script_name not in own)


def cmd_audit(args: argparse.Namespace) -> int:
    import datetime as dt

    from .core.json_source import load_json_text
    from .live.audit import build_audit, load_rotation_dates, render_json, render_markdown, render_table
    from .live.progress import Progress

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    desired = estate.desired_state(stack)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.datetime.now(dt.UTC).date()
    dates = None
    if args.stack_outputs:
        try:
            dates = load_rotation_dates(load_json_text(Path(args.stack_outputs).read_text(), args.stack_outputs,
                                                       "write it again with pulumi stack output --json"))
        except (OSError, ValueError, AttributeError) as exc:
            raise PlaneError.at(args.stack_outputs, "", f"cannot read stack outputs ({type(exc).__name__})",
                                f"write it with: pulumi stack output --json --show-secrets=false --stack {stack} "
                                f"> {args.stack_outputs}") from None
    with Progress(f"audit {stack}", len(desired.workers)) as progress:
        report = build_audit(estate, desired, _live(estate, stack), as_of, dates, progress.step)
    render = {"table": render_table, "json": render_json, "markdown": render_markdown}[args.format]
    print(render(report))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .live.importer import draft_import
    from .live.progress import Progress

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    with Progress(f"import {args.script}", 1):
        text, notes = draft_import(estate, stack, args.worker, args.script, _live(estate, stack))
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    if not text:
        return 1
    print(text, end="")
    return 0


def _named_workers(estate: Estate, stack: str, args: argparse.Namespace) -> list[str]:
    """The Workers a command covers: `--worker NAME`, or with `--all` every Worker of the stack
    that records its wrangler config in the manifest."""
    desired = estate.desired_state(stack)
    if args.all:
        if args.worker:
            raise PlaneError.at("--all", "", "--all and --worker name different things", "pass one of them")
        found = [w.worker for w in desired.workers if estate.manifest.manifest.workers[w.worker].wrangler]
        if not found:
            raise PlaneError.at(estate.manifest_file, "workers", f"no Worker of stack {stack} records its wrangler config",
                                f"add `wrangler: {{config: PATH}}` to each Worker in {estate.manifest_file}, or pass "
                                "--worker")
        return found
    if not args.worker:
        raise PlaneError.at("--worker", "", "this command needs a Worker",
                            f"pass --worker with one of: {', '.join(w.worker for w in desired.workers)} (or --all)")
    return [args.worker]


def _again(args: argparse.Namespace, *words: str, **options: str | bool | None) -> str:
    """The command to paste next: this one's own options, so it works where this one did."""
    parts = ["python -m stacks", *words]
    if getattr(args, "project_dir", None):
        parts += ["--project-dir", shlex.quote(str(args.project_dir))]
    for key, value in options.items():
        if value is True:
            parts.append(f"--{key.replace('_', '-')}")
        elif value:
            parts += [f"--{key.replace('_', '-')}", shlex.quote(str(value))]
    return " ".join(parts)


def cmd_wrangler(args: argparse.Namespace) -> int:
    from .files import inside_project
    from .worker_kit.wrangler_config import check_script_name, entries_for, sync, unmanaged_required

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    if args.all and (args.config or args.env):
        raise PlaneError.at("--all", "", "--config and --env name one Worker's config",
                            "use them with --worker, or record each Worker's config under `wrangler:` in the manifest")
    scripts = {w.worker: w.script_name for w in estate.desired_state(stack).workers}
    problems: list[Problem] = []
    drifted = 0
    for worker in _named_workers(estate, stack, args):
        try:
            entries, config, env = entries_for(estate, stack, worker, args.config, args.env, args.store_id)
            # A path on the command line is the caller's; one in the manifest is the project's, inside it.
            path = Path(config) if args.config else inside_project(
                project, config, estate.manifest.location("workers", worker, "wrangler", "config"))
            if path.exists():
                check_script_name(path, path.read_text(), env, scripts[worker], stack, worker)
            result = sync(path, env or None, entries, write=args.action == "sync")
        except PlaneError as exc:
            problems += exc.problems
            continue
        where = f"{path}" + (f" [env.{env}]" if env else "")
        extras = unmanaged_required(path, result.before, env or None, entries)
        summary = (f"{len(entries.store)} secrets_store_secrets entries, {len(entries.required)} names in "
                   "secrets.required" + (f"; also there, not managed by the plane and kept: {', '.join(extras)}"
                                         if extras else ""))
        if args.action == "sync":
            print(f"{'updated' if result.changed else 'unchanged'}: {where} ({summary})")
        elif result.changed:
            drifted += 1
            print(result.diff(), end="")
            again = _again(args, "wrangler", "sync", stack=stack, worker=worker, config=args.config, env=args.env,
                           store_id=args.store_id)
            print(f"out of sync: {where} needs {summary}; run: {again}", file=sys.stderr)
        else:
            print(f"in sync: {where} ({summary})")
    if problems:
        raise PlaneError(problems)
    return 1 if drifted else 0


def cmd_types(args: argparse.Namespace) -> int:
    from .files import inside_project, read_text_no_follow, write_text
    from .worker_kit.worker_types import TYPES_FILE, render_shared_types, render_types, worker_stacks

    project = _project(args)
    estate = load_estate(project, args.manifest)
    if not args.all:
        stack = _stack(estate, project, args.stack)
        print(render_types(estate, stack, _named_workers(estate, stack, args)[0]), end="")
        return 0
    # One file per Worker, for every stack it runs in (worker_types.py): --stack only narrows the Workers.
    stacks = [_stack(estate, project, args.stack)] if args.stack else sorted(estate.stacks)
    workers: list[str] = []
    for stack in stacks:
        try:
            workers += [w for w in _named_workers(estate, stack, args) if w not in workers]
        except PlaneError:
            if args.stack:
                raise
    if not workers:
        _named_workers(estate, stacks[0], args)  # raises what no stack has
    planned: dict[Path, tuple[str, str]] = {}
    for worker in workers:
        wrangler = estate.manifest.manifest.workers[worker].wrangler
        assert wrangler is not None  # _named_workers keeps only Workers that record their config
        where = estate.manifest.location("workers", worker, "wrangler", "config")
        root = inside_project(project, wrangler.config, where).parent
        folder = root / "src" if (root / "src").is_dir() else root
        target = inside_project(project, str(folder.relative_to(project.resolve())), where) / TYPES_FILE
        if target in planned:
            raise PlaneError.at(estate.manifest_file, f"workers.{worker}.wrangler.config", f"Workers "
                                f"'{planned[target][0]}' and '{worker}' would both write {target}",
                                "give each Worker its own wrangler config folder, or print one with --worker")
        planned[target] = (worker, render_shared_types(estate, worker))
    for target, (worker, text) in planned.items():
        changed = read_text_no_follow(target) != text
        if changed:
            write_text(target, text)
        print(f"{'wrote' if changed else 'unchanged'}: {target} (Worker {worker}, the same bindings in "
              f"{', '.join(worker_stacks(estate, worker))})")
    return 0


def cmd_codemod(args: argparse.Namespace) -> int:
    from .worker_kit.codemod import run_codemod

    estate = load_estate(_project(args), args.manifest)
    return run_codemod(estate, [Path(p) for p in args.paths], args.worker, Path(args.accessor), args.write, args.check)


def cmd_values(args: argparse.Namespace) -> int:
    from .ops.values import load_values, render_status, value_status

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    if args.action == "load":
        return load_values(estate, stack, args.file, sys.stdout, dry_run=args.dry_run)
    print(render_status(stack, value_status(estate, stack)))
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from .ops.rotate import rotate

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stacks = [_stack(estate, project, stack) for stack in (args.stack or [None])]
    return rotate(estate, args.name, stacks, args.generate, args.yes, sys.stdout, dry_run=args.dry_run,
                  no_overlap=args.no_overlap)


def cmd_retire(args: argparse.Namespace) -> int:
    from .ops.rotate import retire

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stacks = [_stack(estate, project, stack) for stack in (args.stack or [None])]
    return retire(estate, args.name, stacks, args.yes, sys.stdout, dry_run=args.dry_run)


def cmd_diff(args: argparse.Namespace) -> int:
    from .ops.diff import render, stack_changes

    project = _project(args)
    estate = load_estate(project, args.manifest)
    for stack in args.stack or []:
        _stack(estate, project, stack)
    changes = stack_changes(project, estate, args.stack, args.base, args.manifest)
    print(render(changes, args.format, args.base), end="\n")
    return 0


def cmd_adopt_store(args: argparse.Namespace) -> int:
    import json

    from .files import write_text
    from .live.adopt_store import adoptions, import_command, import_document
    from .live.progress import Progress

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    desired = estate.desired_state(stack)
    with Progress(f"adopt-store {stack}", 0):
        store_id, found, absent = adoptions(desired, _live(estate, stack))
    if desired.store is None:
        print(f"stack {stack} puts nothing in the store: nothing to adopt", file=sys.stderr)
        return 0
    if store_id is None:
        raise PlaneError.at(f"Pulumi.{stack}.yaml", "config.secrets-plane:store",
                            "the stack's store does not exist yet", "run pulumi up: it creates the store")
    document = json.dumps(import_document(stack, found), indent=2) + "\n"
    if args.output:
        write_text(Path(args.output), document, overwrite=args.force, force_flag="--force")
    else:
        print(document, end="")
    print(f"{len(found)} planned store secret(s) already exist and can be adopted"
          + (f" ({', '.join(a.store_secret_name for a in found)})" if found else "")
          + f"; {len(absent)} do not exist yet and `pulumi up` creates them", file=sys.stderr)
    if found:
        print(f"then run: {import_command(stack, args.output or '<this document>.json')}", file=sys.stderr)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from .files import inside_project, read_text_no_follow
    from .ops.values import read_values, unknown_names
    from .worker_kit import dev_vars
    from .worker_kit.local_dev import (
        DEV_VARS,
        IGNORE_LINES,
        STATE,
        check_store_folder,
        dev_vars_text,
        local_plan,
        not_ignored,
        seed_store,
        write_dev_vars,
    )

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stack = _stack(estate, project, args.stack)
    if args.all and args.dir:
        raise PlaneError.at("--dir", "", "--dir names one Worker's folder", "use it with --worker; with --all each "
                            "Worker's folder is its wrangler config's")
    workers = _named_workers(estate, stack, args)
    values: dict[str, str] = {}
    if not sys.stdin.isatty():
        secrets = estate.manifest.manifest.secrets
        given = read_values("-", secrets)
        unknown = unknown_names(given, secrets, "drop the line")
        if unknown:
            raise PlaneError(unknown)
        values = given.values
    # Without standard input, every value comes from .dev.vars as it is (or a placeholder, when asked).
    # Everything is planned and checked for every Worker before the first file is written.
    planned = []
    for worker in workers:
        spec = estate.manifest.manifest.workers[worker]
        if args.dir:
            directory = Path(args.dir)
        elif spec.wrangler:
            directory = inside_project(project, spec.wrangler.config,
                                       estate.manifest.location("workers", worker, "wrangler", "config")).parent
        else:
            raise PlaneError.at(estate.manifest_file, f"workers.{worker}.wrangler", "where does this Worker's code live?",
                                "pass --dir PATH, or record `wrangler: {config: PATH}` for it in the manifest")
        existing = dev_vars.parse(read_text_no_follow(directory / DEV_VARS) or "")
        plan = local_plan(estate, stack, worker, directory, values, args.placeholders, args.store_id, existing)
        text, kept = dev_vars_text(directory / DEV_VARS, plan.dev_vars, plan.managed)
        if plan.store:
            check_store_folder(directory)
        planned.append((worker, directory, plan, text, kept))
    print("note: .dev.vars and .wrangler/state hold these values in plain text on this disk: anyone who can read the "
          "folder can read them", file=sys.stderr)
    for worker, directory, plan, text, kept in planned:
        write_dev_vars(directory / DEV_VARS, text)
        if plan.store:
            seed_store(directory, plan.store)
        env = f", wrangler env {plan.env}" if plan.env else ""
        print(f"{worker} ({plan.script}{env}): {directory / DEV_VARS}: {len(plan.dev_vars)} Worker secret(s)"
              + (f", {kept} other line(s) kept" if kept else "")
              + (f"; {directory / STATE}: {len(plan.store)} store secret(s) seeded" if plan.store else "")
              + (f"; placeholders for {', '.join(plan.placeholders)}" if plan.placeholders else "")
              + (f"; kept the current value of {', '.join(sorted(plan.kept_values))}" if plan.kept_values else ""))
        if plan.env and (directory / f"{DEV_VARS}.{plan.env}").exists():
            print(f"warning: {directory / (DEV_VARS + '.' + plan.env)} exists: wrangler reads it instead of "
                  f"{DEV_VARS} for env {plan.env}", file=sys.stderr)
        missing = not_ignored(directory)
        if missing:
            print(f"warning: git does not ignore {', '.join(missing)} in {directory}: add to its .gitignore:\n"
                  + "\n".join(f"  {line}" for line in IGNORE_LINES), file=sys.stderr)
    return 0


def _refuse_unless_sample(output: Path) -> None:
    from .core.sample_ids import is_sample_manifest

    if output.is_symlink() or not output.is_file() or not is_sample_manifest(output.read_bytes()):
        raise PlaneError.at(str(output), "", "not the shipped sample's manifest (it has been edited, or is no "
                            "regular file): init replaces the sample only, never a manifest of yours",
                            "pass another --output, or move the file away")


def cmd_init(args: argparse.Namespace) -> int:
    from .files import write_text
    from .worker_kit.init_draft import draft

    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    output = Path(args.output) if args.output else None
    if args.replace_sample and output is None:
        raise PlaneError.at("--replace-sample", "", "--replace-sample needs --output",
                            "pass --output secrets_manifest.yaml (the sample's manifest) with it")
    # lexists: a link, even a dangling one, is "there" (writing would follow it and create its target).
    replace = False
    if output is not None and os.path.lexists(output):
        if not args.replace_sample:
            raise PlaneError.at(str(output), "", "the file exists already (or a link by that name does): init never "
                                "overwrites a manifest", "pass another --output, or move the file away (or, for the "
                                "shipped sample's manifest, --replace-sample)")
        _refuse_unless_sample(output)
        replace = True
    text, notes = draft([Path(c) for c in args.from_wrangler], stacks, (output or Path("x")).absolute().parent)
    if replace and output is not None:
        _refuse_unless_sample(output)  # again, just before the write: an edit made while drafting is never lost
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    if output is None:
        print(text, end="")
    else:
        write_text(output, text, overwrite=replace)
        print(f"wrote {output}" + (" (in place of the shipped sample)" if replace else ""), file=sys.stderr)
    return 0


def cmd_overview(args: argparse.Namespace) -> int:
    from .core.overview import build_overview
    from .files import write_text
    from .ops.overview import RENDER

    estate = load_estate(_project(args), args.manifest)
    text = RENDER[args.format](build_overview(estate))
    if args.output:
        write_text(Path(args.output), text if text.endswith("\n") else text + "\n", overwrite=args.force,
                   force_flag="--force")
        print(f"wrote {args.output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .core.schema import SCHEMA_FILE, render_schema
    from .files import write_text

    text = render_schema()
    if args.write:
        target = _project(args) / SCHEMA_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)
        print(f"wrote {SCHEMA_FILE}")
    else:
        print(text, end="")
    return 0


NOT_SHOWN = "not shown: a value typed there by mistake must not reach a terminal or a CI log"


def _argparse_message(message: str) -> str:
    """argparse's message, without the text it refused: argparse quotes the offending word
    ("unrecognized arguments: sk_live_...", "invalid choice: '...'") and that word is sometimes a
    credential pasted in the wrong place. What is kept names our own arguments only."""
    found = re.fullmatch(r"argument ([^:]+): (.*)", message, re.S)
    if found:
        name, rest = found.groups()
        if rest.startswith("invalid choice"):
            return f"argument {name}: not one of its choices (the usage above lists them; the word given is {NOT_SHOWN})"
        kind = re.match(r"invalid (\S+) value", rest)
        if kind:
            return f"argument {name}: not a valid {kind.group(1)} value ({NOT_SHOWN})"
        if rest.startswith("ignored explicit argument"):
            return f"argument {name}: takes no value ({NOT_SHOWN})"
        if rest.startswith(("expected ", "not allowed with argument ")):
            return message
        return f"argument {name}: not valid ({NOT_SHOWN})"
    if message.startswith("the following arguments are required: "):
        return message
    if message.startswith("ambiguous option"):
        return f"an abbreviated option matches several options: spell it out ({NOT_SHOWN})"
    return f"the arguments are not valid: see the usage above ({NOT_SHOWN})"


class _Parser(argparse.ArgumentParser):
    """An argument parser that never echoes an argument it refuses: it says which position and
    how many, and prints the usage."""

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        parsed, extras = self.parse_known_args(argv, namespace)
        if extras:
            positions, start = [], 0
            for extra in extras:
                start = next((i for i in range(start, len(argv)) if argv[i] == extra), start)
                positions.append(start + 1)
                start += 1
            where = ", ".join(str(p) for p in positions)
            self._refuse(f"{len(extras)} unexpected argument(s), at position(s) {where} of {len(argv)} ({NOT_SHOWN}); "
                         "a value goes on standard input, never on the command line")
        return parsed

    def error(self, message: str) -> NoReturn:
        self._refuse(_argparse_message(message))

    def _refuse(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Options every command takes, before or after its name (after it, they win)."""
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--project-dir", default=default(None),
                        help="folder holding Pulumi.yaml and the manifest (default: the nearest one from here up)")
    parser.add_argument("--manifest", default=default(MANIFEST_FILE), help="manifest file name, relative to the project")
    parser.add_argument("--debug", action="store_true", default=default(False),
                        help="debug logging (never includes values)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="secrets-plane", description=__doc__)
    _common(parser, top=True)
    common = _Parser(add_help=False)
    _common(common, top=False)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common])

    def scope_options(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--scope", metavar="FILE", help="check only what `stacks scope` wrote to FILE")
        group.add_argument("--all", action="store_true", help="check every Worker and store secret (the default)")

    def stack_option(p: argparse.ArgumentParser, many: bool = False) -> None:
        if many:
            p.add_argument("--stack", action="append", help="a stack (Pulumi.<stack>.yaml); repeat for several, in order")
        else:
            p.add_argument("--stack", help="the stack (Pulumi.<stack>.yaml)")

    p = command("validate", "check the manifest and every Pulumi.<stack>.yaml: every error in one run, by file and "
                "line")
    p.add_argument("--require-values", action="store_true",
                   help="a value missing from a stack file is an error (when values are not in ESC)")
    p.set_defaults(func=cmd_validate)

    p = command("plan", "what the program declares for a stack, offline (Pulumi mocks)")
    stack_option(p)
    p.add_argument("--backend", choices=["legacy", "store"], help="override the backend for this plan")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_plan)

    p = command("canary", "live check: every Worker serves exactly the desired bindings")
    stack_option(p)
    p.add_argument("--wait", type=float, default=90.0, metavar="SECONDS",
                   help="how long to wait for store secrets that are still pending (default 90)")
    scope_options(p)
    p.set_defaults(func=cmd_canary)

    p = command("preflight", "read-only: what would make `pulumi up` fail on the live account, before it runs")
    stack_option(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    scope_options(p)
    p.set_defaults(func=cmd_preflight)

    p = command("scope", "what this run writes and what changed since the last read (drifted Workers refreshed)")
    stack_option(p)
    p.add_argument("--output", help="write the scope here (JSON, names only) instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--all", action="store_true", help="the full check: every Worker, and a full refresh")
    p.add_argument("--no-refresh", action="store_true",
                   help="refresh nothing (a pull request's preview): the drifted Workers are only named")
    p.set_defaults(func=cmd_scope, needs_pulumi=lambda a: not (a.all and a.no_refresh))

    p = command("audit", "every credential, its owner, Workers, last change and live status")
    stack_option(p)
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    p.add_argument("--as-of", help="date to judge rotation against (YYYY-MM-DD, default today)")
    p.add_argument("--stack-outputs", help="`pulumi stack output --json` file: exact legacy rotation dates")
    p.set_defaults(func=cmd_audit)

    p = command("import", "draft manifest entries from a live Worker's secrets (names only)")
    stack_option(p)
    p.add_argument("--worker", required=True, help="the manifest key to use for this Worker")
    p.add_argument("--script", required=True, help="the live script name")
    p.set_defaults(func=cmd_import)

    p = command("wrangler", "keep a Worker's wrangler config's secrets_store_secrets in step")
    p.add_argument("action", choices=["sync", "check"])
    stack_option(p)
    p.add_argument("--worker", help="the manifest's Worker (or --all)")
    p.add_argument("--all", action="store_true", help="every Worker of the stack with a `wrangler:` entry")
    p.add_argument("--config", help="wrangler.toml / wrangler.json(c); default: the manifest's wrangler.config")
    p.add_argument("--env", help="wrangler env; default: the manifest's wrangler.env for the stack")
    p.add_argument("--store-id", help="store id, when the stack creates its store (pulumi stack output store_id)")
    p.set_defaults(func=cmd_wrangler)

    p = command("types", "TypeScript interface of a Worker's secret bindings (dual shape)")
    stack_option(p)
    p.add_argument("--worker", help="the manifest's Worker (or --all)")
    p.add_argument("--all", action="store_true", help="every Worker with a `wrangler:` entry (of --stack, else of "
                                                      "every stack), each written to src/secrets.generated.ts beside "
                                                      "its wrangler config (or beside the config when it has no src/): "
                                                      "one file for every stack the Worker runs in, which binds the "
                                                      "same names in each")
    p.set_defaults(func=cmd_types)

    p = command("values", "set a stack's values in bulk (stdin to pulumi, never argv), or list them")
    actions = p.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load", help="set every value of a dotenv or JSON file (checked first)",
                              description="set every value of a dotenv or JSON file (checked first)", parents=[common])
    load.add_argument("file", help="a dotenv (NAME=value) or JSON file, or - for standard input")
    stack_option(load)
    load.add_argument("--dry-run", action="store_true",
                      help="check everything and say what would be set (names only); needs no Pulumi CLI")
    load.set_defaults(func=cmd_values, needs_pulumi=lambda a: not a.dry_run)
    status = actions.add_parser("status", help="which values the stack needs, has and lacks (nothing decrypted)",
                                description="which values the stack needs, has and lacks (nothing decrypted)",
                                parents=[common])
    stack_option(status)
    status.set_defaults(func=cmd_values, file=None, dry_run=False)

    p = command("rotate", "set a new value and apply it to exactly what carries it (pulumi up --target)")
    p.add_argument("name", help="the manifest secret")
    stack_option(p, many=True)
    p.add_argument("--generate", action="store_true", help="a random value of the length the manifest states")
    p.add_argument("--yes", action="store_true", help="apply without pulumi's confirmation prompt")
    p.add_argument("--dry-run", action="store_true",
                   help="check the value and say what would be touched and run (never the value); needs no Pulumi CLI")
    p.add_argument("--no-overlap", action="store_true",
                   help="for a secret with overlap_days: the previous value becomes the new one too, so the old one "
                        "stops working now (a leaked key)")
    p.set_defaults(func=cmd_rotate, needs_pulumi=lambda a: not a.dry_run)

    p = command("retire", "end an overlap window: the previous value stops working, _PREVIOUS holds the current one")
    p.add_argument("name", help="the manifest secret (one with overlap_days)")
    stack_option(p, many=True)
    p.add_argument("--yes", action="store_true", help="apply without pulumi's confirmation prompt")
    p.add_argument("--dry-run", action="store_true", help="say what would be touched and run; needs no Pulumi CLI")
    p.set_defaults(func=cmd_retire, needs_pulumi=lambda a: not a.dry_run)

    p = command("diff", "what a change does to credentials, against a git ref (for pull requests)")
    stack_option(p, many=True)
    p.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.set_defaults(func=cmd_diff)

    p = command("adopt-store", "a pulumi import document for store secrets that already exist by name")
    stack_option(p)
    p.add_argument("--output", help="write the document to this file (default: standard output)")
    p.add_argument("--force", action="store_true", help="replace the --output file when it exists")
    p.set_defaults(func=cmd_adopt_store)

    p = command("dev", "local development as the stack binds it: .dev.vars and wrangler's local Secrets Store")
    stack_option(p)
    p.add_argument("--worker", help="the manifest's Worker (or --all)")
    p.add_argument("--all", action="store_true", help="every Worker of the stack with a `wrangler:` entry, each in its "
                                                      "config's folder")
    p.add_argument("--dir", help="the Worker's folder (default: its wrangler config's)")
    p.add_argument("--placeholders", action="store_true",
                   help="obvious fake values for every secret not given on standard input")
    p.add_argument("--store-id", help="store id, when the stack creates its store (pulumi stack output store_id)")
    p.set_defaults(func=cmd_dev)

    p = command("init", "draft a manifest from existing wrangler configs (offline: names only, never values)")
    p.add_argument("--from-wrangler", nargs="+", required=True, metavar="CONFIG",
                   help="wrangler.toml / wrangler.json(c) files, one per Worker")
    p.add_argument("--stacks", default="staging,prod",
                   help="the stacks, comma-separated (default staging,prod): each maps to the wrangler env of the same "
                        "name, prod to the top level")
    p.add_argument("--output", help="write the draft here (default: standard output); never overwrites")
    p.add_argument("--replace-sample", action="store_true",
                   help="with --output: replace the file if it is the shipped sample's manifest, unedited (a project "
                        "started from the sample); any other file is still refused")
    p.set_defaults(func=cmd_init)

    p = command("overview", "every stack side by side: each binding's backend, each stack's store and pins")
    p.add_argument("--format", choices=["text", "markdown", "json", "html"], default="text")
    p.add_argument("--output", help="write to this file (the html form is one self-contained page)")
    p.add_argument("--force", action="store_true", help="replace the --output file when it exists")
    p.set_defaults(func=cmd_overview)

    p = command("schema", "the manifest's JSON Schema, for editors")
    p.add_argument("--write", action="store_true", help="write schema/secrets_manifest.schema.json")
    p.set_defaults(func=cmd_schema)

    p = command("codemod", "route a Worker's secret reads through the accessor (tree-sitter)")
    p.epilog = (
        "The Worker's env is: a parameter or variable typed as the Env (or as any type in the files that declares "
        "one of the Worker's binding names); a handler's env parameter (the second of fetch, scheduled, queue, "
        "email, tail, trace, test), whatever its name; a parameter of a function in the files that a call hands the "
        "env to; a variable taken from the env; `import { env } from \"cloudflare:workers\"`; a name `env` unless "
        "its declaration says otherwise; `this.env`; `this.ctx.env`; `<ctx>.env` where ctx is a parameter named c "
        "or context, or typed Context, EventContext or AppLoadContext (Hono, Pages, Remix). Never `process.env`, "
        "never another object's `env`. A store read, `env.NAME.get()`, becomes `readSecret(env.NAME, \"NAME\")`, the "
        "call replaced (the accessor calls .get() itself); a presence test (`!env.NAME`, `if (env.NAME)`) is kept, a default when absent (`env.NAME || x`) listed. "
        "A file that does not parse is listed, left as it is, and its reads are not counted. The accessor file "
        "must exist before its import is written: copy worker-kit/secrets.ts there.")
    p.add_argument("paths", nargs="+", help="TypeScript or JavaScript files or folders (.ts, .tsx, .js, .mjs, .jsx)")
    p.add_argument("--worker", required=True)
    p.add_argument("--accessor", required=True, help="path of the accessor module (secrets.ts) in the Worker project")
    p.add_argument("--write", action="store_true", help="rewrite files; without it, print a unified diff")
    p.add_argument("--check", action="store_true",
                   help="for CI: exit 1 when a read is left for a person, a file does not parse, the accessor "
                        "file is missing or a file would change")
    p.set_defaults(func=cmd_codemod)
    return parser


class _Shown(io.TextIOBase):
    """An output stream that shows foreign text without obeying it: every control character and
    bidirectional override a name, a description or an API message may carry is written as a
    visible escape (core/text.py). The plane's own terminal control (the progress line) writes to
    `unfiltered`."""

    def __init__(self, stream: TextIO):
        self.unfiltered = stream

    def write(self, text: str) -> int:
        self.unfiltered.write(terminal(text))
        return len(text)

    def flush(self) -> None:
        self.unfiltered.flush()

    def isatty(self) -> bool:
        return self.unfiltered.isatty()

    def fileno(self) -> int:
        return self.unfiltered.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.unfiltered, "encoding", "utf-8")


@contextmanager
def _shown_streams() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Shown(sys.stdout), _Shown(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def main(argv: Sequence[str] | None = None) -> int:
    with _shown_streams():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        if needs_pulumi(args):
            from .ops.pulumi_cli import pulumi_executable

            pulumi_executable()  # a missing CLI is said before anything is read, printed or set
        with _program_reads(args.manifest):
            return func(args)
    except PlaneError as exc:
        for problem in exc.problems:
            print(problem.render(), file=sys.stderr)
        return 1
    except CloudflareOperationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        pulumi = sys.modules.get("pulumi")
        if pulumi is not None and isinstance(exc, pulumi.RunError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


def needs_pulumi(args: argparse.Namespace) -> bool:
    """Whether the command, with these arguments, runs the Pulumi CLI (its registration says)."""
    needs: Callable[[argparse.Namespace], bool] = getattr(args, "needs_pulumi", lambda _: False)
    return needs(args)


@contextmanager
def _program_reads(manifest: str) -> Iterator[None]:
    """The `pulumi` a command starts (`rotate`'s apply, `scope`'s preview and refresh) runs the
    program on the manifest the command was given, not the project's default one."""
    saved = os.environ.get(MANIFEST_ENV)
    os.environ[MANIFEST_ENV] = manifest
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(MANIFEST_ENV, None)
        else:
            os.environ[MANIFEST_ENV] = saved


def _closed_pipe() -> int:
    """`... | head` closed the pipe: not an error worth a traceback. Point stdout at /dev/null so
    the interpreter's own flush at exit does not fail on it again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
