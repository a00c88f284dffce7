"""Command line: `python -m stacks <command>` or `secrets-plane <command>`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pulumi

from .cloudflare_api import CloudflareOperationError
from .errors import PlaneError
from .estate import MANIFEST_FILE, Estate, load_estate


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
    from .plan import build_plan, render_json, render_text

    estate = load_estate(_project(args), args.manifest)
    if args.stack not in estate.stacks:
        from .stack_config import load_stack_file

        load_stack_file(_project(args), args.stack)  # raises the "unknown stack" error
    plan = build_plan(estate, args.stack, args.backend)
    print(render_json(plan) if args.format == "json" else render_text(plan))
    return 0


def _stack(estate: Estate, project: Path, stack: str) -> None:
    if stack not in estate.stacks:
        from .stack_config import load_stack_file

        load_stack_file(project, stack)  # raises the "unknown stack" error with a suggestion


def cmd_canary(args: argparse.Namespace) -> int:
    from .canary import render, run_canary
    from .live import LiveAccount

    estate = load_estate(_project(args), args.manifest)
    _stack(estate, _project(args), args.stack)
    desired = estate.desired_state(args.stack)
    health = {name: w.health_url[args.stack] for name, w in estate.manifest.manifest.workers.items()
              if args.stack in w.health_url}
    report = run_canary(desired, LiveAccount(desired.account_id), health)
    print(render(report))
    return 0 if report.ok else 1


def cmd_audit(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .audit import build_audit, load_rotation_dates, render_json, render_markdown, render_table
    from .live import LiveAccount

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
    from .importer import draft_import
    from .live import LiveAccount

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

    p = sub.add_parser("canary", help="live check: every Worker carries exactly the desired bindings")
    p.add_argument("--stack", required=True)
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
    except pulumi.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error worth a traceback.
        sys.stderr.close()
        return 0
