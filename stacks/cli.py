"""Command line: `python -m stacks <command>` or `secrets-plane <command>`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import PlaneError
from .estate import MANIFEST_FILE, load_estate


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
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error worth a traceback.
        sys.stderr.close()
        return 0
