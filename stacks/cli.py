"""Command line: `python -m stacks <command>` or `secrets-plane <command>`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .core.errors import CloudflareOperationError, PlaneError
from .core.estate import MANIFEST_FILE, Estate, load_estate

# Commands import what they use when they run: `validate` and `schema` import neither Pulumi nor
# the Cloudflare SDK, which alone take seconds to import.


def _project(args: argparse.Namespace) -> Path:
    return Path(args.project_dir).resolve()


def cmd_validate(args: argparse.Namespace) -> int:
    estate = load_estate(_project(args), args.manifest, require_values=args.require_values)
    m = estate.manifest.manifest
    for warning in estate.problems.warnings:
        print(warning.render(), file=sys.stderr)
    bindings = sum(len(w.binding_map()) for w in m.workers.values())
    print(f"ok: {len(m.secrets)} secrets, {len(m.workers)} workers, {bindings} bindings, "
          f"stacks {', '.join(sorted(estate.stacks))}, backend {m.backend}, "
          f"digest {m.digest()[:12]}, {len(estate.problems.warnings)} warning(s)")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    # Nearly every object this command makes (pulumi_cloudflare's modules, the run's Outputs)
    # lives until it ends: the cyclic collector would only walk them, again and again (a tenth of
    # the command at 200 Workers). On the way out they are frozen, so an in-process caller gets
    # its collector back without one last walk over them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .resources.plan import build_plan, render_json, render_text

        estate = load_estate(_project(args), args.manifest)
        _stack(estate, _project(args), args.stack)
        plan = build_plan(estate, args.stack, args.backend)
        print(render_json(plan) if args.format == "json" else render_text(plan))
        return 0
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _stack(estate: Estate, project: Path, stack: str) -> None:
    if stack not in estate.stacks:
        from .core.stack_config import load_stack_file

        load_stack_file(project, stack)  # raises the "unknown stack" error with a suggestion


def cmd_canary(args: argparse.Namespace) -> int:
    from .live.account import LiveAccount
    from .live.canary import render, run_canary

    estate = load_estate(_project(args), args.manifest)
    _stack(estate, _project(args), args.stack)
    desired = estate.desired_state(args.stack)
    health = {name: w.health_url[args.stack] for name, w in estate.manifest.manifest.workers.items()
              if args.stack in w.health_url}
    report = run_canary(desired, LiveAccount(desired.account_id), health, wait_s=args.wait)
    print(render(report))
    return 0 if report.ok else 1


def cmd_audit(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .live.account import LiveAccount
    from .live.audit import build_audit, load_rotation_dates, render_json, render_markdown, render_table

    estate = load_estate(_project(args), args.manifest)
    _stack(estate, _project(args), args.stack)
    desired = estate.desired_state(args.stack)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.datetime.now(dt.UTC).date()
    dates = None
    if args.stack_outputs:
        try:
            dates = load_rotation_dates(json.loads(Path(args.stack_outputs).read_text()))
        except (OSError, ValueError) as exc:
            raise PlaneError.at(args.stack_outputs, "", f"cannot read stack outputs ({type(exc).__name__})",
                                f"write it with: pulumi stack output --json --show-secrets=false --stack {args.stack} "
                                f"> {args.stack_outputs}") from None
    report = build_audit(estate, desired, LiveAccount(desired.account_id), as_of, dates)
    render = {"table": render_table, "json": render_json, "markdown": render_markdown}[args.format]
    print(render(report))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .live.account import LiveAccount
    from .live.importer import draft_import

    estate = load_estate(_project(args), args.manifest)
    _stack(estate, _project(args), args.stack)
    account = estate.stacks[args.stack].settings.account_id
    text, notes = draft_import(estate, args.stack, args.worker, args.script, LiveAccount(account))
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    if not text:
        return 1
    print(text, end="")
    return 0


def cmd_wrangler(args: argparse.Namespace) -> int:
    from .worker_kit.wrangler_config import entries_for, sync

    project = _project(args)
    estate = load_estate(project, args.manifest)
    _stack(estate, project, args.stack)
    entries, config, env = entries_for(estate, args.stack, args.worker, args.config, args.env, args.store_id)
    path = (project / config) if not Path(config).is_absolute() else Path(config)
    result = sync(path, env or None, entries, write=args.action == "sync")
    where = f"{path}" + (f" [env.{env}]" if env else "")
    summary = (f"{len(entries.store)} secrets_store_secrets entries, {len(entries.required)} names in "
               "secrets.required")
    if args.action == "check":
        if result.changed:
            print(result.diff(), end="")
            print(f"out of sync: {where} needs {summary}; run: python -m stacks wrangler sync --stack {args.stack} "
                  f"--worker {args.worker}", file=sys.stderr)
            return 1
        print(f"in sync: {where} ({summary})")
        return 0
    print(f"{'updated' if result.changed else 'unchanged'}: {where} ({summary})")
    return 0


def cmd_types(args: argparse.Namespace) -> int:
    from .worker_kit.worker_types import render_types

    estate = load_estate(_project(args), args.manifest)
    _stack(estate, _project(args), args.stack)
    print(render_types(estate, args.stack, args.worker), end="")
    return 0


def cmd_codemod(args: argparse.Namespace) -> int:
    from .worker_kit.codemod import run_codemod

    estate = load_estate(_project(args), args.manifest)
    return run_codemod(estate, [Path(p) for p in args.paths], args.worker, Path(args.accessor), args.write)


def cmd_values(args: argparse.Namespace) -> int:
    from .ops.values import load_values, render_status, value_status

    project = _project(args)
    estate = load_estate(project, args.manifest)
    _stack(estate, project, args.stack)
    if args.action == "load":
        return load_values(estate, args.stack, args.file, sys.stdout)
    print(render_status(args.stack, value_status(estate, args.stack)))
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from .ops.rotate import rotate

    project = _project(args)
    estate = load_estate(project, args.manifest)
    for stack in args.stack:
        _stack(estate, project, stack)
    return rotate(estate, args.name, args.stack, args.generate, args.yes, sys.stdout)


def cmd_diff(args: argparse.Namespace) -> int:
    from .ops.diff import render, stack_changes

    project = _project(args)
    estate = load_estate(project, args.manifest)
    stacks = args.stack or sorted(estate.stacks)
    for stack in stacks:
        _stack(estate, project, stack)
    print(render([stack_changes(project, estate, stack, args.base) for stack in stacks], args.format, args.base), end="\n")
    return 0


def cmd_adopt_store(args: argparse.Namespace) -> int:
    import json

    from .live.account import LiveAccount
    from .live.adopt_store import adoptions, import_command, import_document

    project = _project(args)
    estate = load_estate(project, args.manifest)
    _stack(estate, project, args.stack)
    desired = estate.desired_state(args.stack)
    store_id, found, absent = adoptions(desired, LiveAccount(desired.account_id))
    if desired.store is None:
        print(f"stack {args.stack} puts nothing in the store: nothing to adopt", file=sys.stderr)
        return 0
    if store_id is None:
        raise PlaneError.at(f"Pulumi.{args.stack}.yaml", "config.secrets-plane:store",
                            "the stack's store does not exist yet", "run pulumi up: it creates the store")
    document = json.dumps(import_document(args.stack, found), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(document)
    else:
        print(document, end="")
    print(f"{len(found)} planned store secret(s) already exist and can be adopted"
          + (f" ({', '.join(a.store_secret_name for a in found)})" if found else "")
          + f"; {len(absent)} do not exist yet and `pulumi up` creates them", file=sys.stderr)
    if found:
        print(f"then run: {import_command(args.stack, args.output or '<this document>.json')}", file=sys.stderr)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .core.schema import SCHEMA_FILE, render_schema

    text = render_schema()
    if args.write:
        target = _project(args) / SCHEMA_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {SCHEMA_FILE}")
    else:
        print(text, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secrets-plane", description=__doc__)
    parser.add_argument("--project-dir", default=".", help="folder holding Pulumi.yaml and the manifest")
    parser.add_argument("--manifest", default=MANIFEST_FILE, help="manifest file name, relative to the project")
    parser.add_argument("--debug", action="store_true", help="debug logging (never includes values)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check the manifest and every Pulumi.<stack>.yaml")
    p.add_argument("--require-values", action="store_true",
                   help="a value missing from a stack file is an error (when values are not in ESC)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="what the program declares for a stack, offline (Pulumi mocks)")
    p.add_argument("--stack", required=True)
    p.add_argument("--backend", choices=["legacy", "store"], help="override the backend for this plan")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("canary", help="live check: every Worker serves exactly the desired bindings")
    p.add_argument("--stack", required=True)
    p.add_argument("--wait", type=float, default=90.0, metavar="SECONDS",
                   help="how long to wait for store secrets that are still pending (default 90)")
    p.set_defaults(func=cmd_canary)

    p = sub.add_parser("audit", help="every credential, its owner, Workers, last change and live status")
    p.add_argument("--stack", required=True)
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    p.add_argument("--as-of", help="date to judge rotation against (YYYY-MM-DD, default today)")
    p.add_argument("--stack-outputs", help="`pulumi stack output --json` file: exact legacy rotation dates")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("import", help="draft manifest entries from a live Worker's secrets (names only)")
    p.add_argument("--stack", required=True)
    p.add_argument("--worker", required=True, help="the manifest key to use for this Worker")
    p.add_argument("--script", required=True, help="the live script name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("wrangler", help="keep a Worker's wrangler config's secrets_store_secrets in step")
    p.add_argument("action", choices=["sync", "check"])
    p.add_argument("--stack", required=True)
    p.add_argument("--worker", required=True)
    p.add_argument("--config", help="wrangler.toml / wrangler.json(c); default: the manifest's wrangler.config")
    p.add_argument("--env", help="wrangler env; default: the manifest's wrangler.env for the stack")
    p.add_argument("--store-id", help="store id, when the stack creates its store (pulumi stack output store_id)")
    p.set_defaults(func=cmd_wrangler)

    p = sub.add_parser("types", help="TypeScript interface of a Worker's secret bindings (dual shape)")
    p.add_argument("--stack", required=True)
    p.add_argument("--worker", required=True)
    p.set_defaults(func=cmd_types)

    p = sub.add_parser("values", help="set a stack's values in bulk (stdin to pulumi, never argv), or list them")
    actions = p.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load", help="set every value of a dotenv or JSON file (checked first)")
    load.add_argument("file", help="a dotenv (NAME=value) or JSON file, or - for standard input")
    load.add_argument("--stack", required=True)
    load.set_defaults(func=cmd_values)
    status = actions.add_parser("status", help="which values the stack needs, has and lacks (nothing decrypted)")
    status.add_argument("--stack", required=True)
    status.set_defaults(func=cmd_values, file=None)

    p = sub.add_parser("rotate", help="set a new value and apply it to exactly what carries it (pulumi up --target)")
    p.add_argument("name", help="the manifest secret")
    p.add_argument("--stack", required=True, action="append", help="repeat for several stacks, in order")
    p.add_argument("--generate", action="store_true", help="a random value of the length the manifest states")
    p.add_argument("--yes", action="store_true", help="apply without pulumi's confirmation prompt")
    p.set_defaults(func=cmd_rotate)

    p = sub.add_parser("diff", help="what a change does to credentials, against a git ref (for pull requests)")
    p.add_argument("--stack", action="append", help="repeat for several stacks (default: every stack)")
    p.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("adopt-store", help="a pulumi import document for store secrets that already exist by name")
    p.add_argument("--stack", required=True)
    p.add_argument("--output", help="write the document to this file (default: standard output)")
    p.set_defaults(func=cmd_adopt_store)

    p = sub.add_parser("schema", help="the manifest's JSON Schema, for editors")
    p.add_argument("--write", action="store_true", help="write schema/secrets_manifest.schema.json")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("codemod", help="route a Worker's secret reads through the accessor (tree-sitter)")
    p.add_argument("paths", nargs="+", help="TypeScript files or folders")
    p.add_argument("--worker", required=True)
    p.add_argument("--accessor", required=True, help="path of the accessor module (secrets.ts) in the Worker project")
    p.add_argument("--write", action="store_true", help="rewrite files; without it, print a unified diff")
    p.set_defaults(func=cmd_codemod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except PlaneError as exc:
        for problem in exc.problems:
            print(problem.render(), file=sys.stderr)
        return 1
    except CloudflareOperationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        pulumi = sys.modules.get("pulumi")
        if pulumi is not None and isinstance(exc, pulumi.RunError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error worth a traceback.
        sys.stderr.close()
        return 0
