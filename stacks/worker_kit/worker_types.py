"""TypeScript typings of a Worker's secret bindings, generated from the manifest.

wrangler bundles without a type check, so this file is code that runs in the Worker: every piece
of manifest text in it goes through `core/text.py` (comments on one line and without `*/`, names
as string literals or checked identifiers).

A Worker's code is one for every stack it runs in, and so is the file `types --all` writes beside
its config (`TYPES_FILE`): what the Worker binds is the same in each stack by the manifest's own
rule (one `secrets:` list per Worker; a fallback copy some stack has is optional everywhere; a
`_PREVIOUS` binding comes with `overlap_days`, not with a stack's window), so the file says which
stacks and scripts it serves and stays byte for byte whichever stack wrote it last."""

from __future__ import annotations

import re

from ..core.errors import PlaneError
from ..core.estate import Estate
from ..core.naming import fallback_binding_name, is_binding_name
from ..core.text import ts_comment, ts_string


def fallback_copies(estate: Estate, worker_name: str) -> set[str]:
    """Binding names of a Worker that have a fallback copy in any of its stacks (the Worker's code
    is one, whatever the stack: it reads the copy wherever one may exist)."""
    spec = estate.manifest.manifest.workers.get(worker_name)
    stacks = [s for s in (spec.stacks if spec else []) if s in estate.stacks]
    return {b.name for s in stacks for w in estate.desired_state(s).workers if w.worker == worker_name
            for b in w.bindings if w.binding(fallback_binding_name(b.name)) is not None}


TYPES_FILE = "secrets.generated.ts"  # what `types --all` writes beside each Worker's wrangler config


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Worker"


def _property(name: str) -> str:
    """A binding name as an interface property: bare when it is an identifier, else quoted."""
    return name if is_binding_name(name) else ts_string(name)


def render_types(estate: Estate, stack: str, worker_name: str) -> str:
    """The typings of one Worker as one stack binds it (`types --stack S --worker W`)."""
    c = ts_comment
    script = estate.desired_worker(stack, worker_name).script_name
    return "\n".join([
        f"// Secret bindings of Worker '{c(worker_name)}' (script {c(script)}, stack {c(stack)}).",
        f"// Generated from {c(estate.manifest_file)} by `python -m stacks types --stack {c(stack)} --worker "
        f"{c(worker_name)}`: do not edit.",
        *_body(estate, stack, worker_name)])


def worker_stacks(estate: Estate, worker_name: str) -> list[str]:
    spec = estate.manifest.manifest.workers[worker_name]
    return [s for s in sorted(estate.stacks) if s in spec.stacks
            and any(w.worker == worker_name for w in estate.desired_state(s).workers)]


def render_shared_types(estate: Estate, worker_name: str) -> str:
    """The typings of a Worker for every stack it runs in, as `types --all` writes them: one file,
    checked to be what each stack binds."""
    c = ts_comment
    stacks = worker_stacks(estate, worker_name)
    bodies = {stack: _body(estate, stack, worker_name) for stack in stacks}
    differing = [stack for stack in stacks if bodies[stack] != bodies[stacks[0]]]
    if differing:
        # The manifest's rule gives a Worker one set of bindings in every stack: reaching here is a
        # change of that rule, and one file would be wrong for some stack.
        raise PlaneError.at(estate.manifest_file, f"workers.{worker_name}", f"Worker '{worker_name}' binds other "
                            f"secrets in stack(s) {', '.join(differing)} than in {stacks[0]}: one typings file cannot "
                            "serve them", "print each with `types --stack S --worker W` instead of --all")
    scripts = ", ".join(f"{estate.desired_worker(s, worker_name).script_name} in {s}" for s in stacks)
    return "\n".join([
        f"// Secret bindings of Worker '{c(worker_name)}', the same in every stack it runs in ({c(scripts)}).",
        f"// Generated from {c(estate.manifest_file)} by `python -m stacks types --all`: do not edit.",
        *bodies[stacks[0]]])


def _body(estate: Estate, stack: str, worker_name: str) -> list[str]:
    worker = estate.desired_worker(stack, worker_name)
    m = estate.manifest.manifest
    copies = fallback_copies(estate, worker_name)
    iface = f"{_pascal(worker_name)}Secrets"
    const = f"{re.sub(r'[^A-Za-z0-9]+', '_', worker_name).upper()}_SECRET_BINDINGS"
    c = ts_comment
    lines = [
        "// Each is a string (secret_text, legacy backend) or a Secrets Store binding (store backend):",
        "// read it with `await readSecret(env.NAME, \"NAME\")` and the same code serves both. Where the",
        "// manifest asks for a fallback copy, pass it: `readSecret(env.NAME, \"NAME\", env.NAME_FALLBACK)`.",
        *(["// A secret rotated with overlap has NAME_PREVIOUS beside it: `await readSecretCandidates(env, \"NAME\")`",
            "// gives the current value, then the previous one while they differ (verify or decrypt with each)."]
          if any(b.slot == "previous" for b in worker.bindings) else []),
        "",
        "export interface SecretsStoreSecret {",
        "  get(): Promise<string>;",
        "}",
        "",
        f"export interface {iface} {{",
    ]
    for b in worker.bindings:
        if b.role == "fallback":
            continue
        spec = m.secrets[b.secret]
        source = "" if b.name == b.secret else f" Secret {c(b.secret)}."
        if b.slot == "previous":
            lines.append(f"  /** The value of {c(b.of or b.secret)} before its last rotation, during its overlap window "
                         f"of {spec.overlap_days} days (equal to {c(b.of or b.secret)} outside one). */")
        else:
            lines.append(f"  /** {c(spec.description)}. Owner: {c(spec.owner)}. Provider: {c(spec.provider)}.{source} */")
        lines.append(f"  readonly {_property(b.name)}: string | SecretsStoreSecret;")
        if b.name in copies:
            # Optional: a stack without the copy (or before it is written) leaves it undefined.
            lines.append(f"  /** Fallback copy of {c(b.name)} (secret_text), read when the store cannot be. */")
            lines.append(f"  readonly {_property(fallback_binding_name(b.name))}?: string;")
    names = ", ".join(ts_string(b.name) for b in worker.bindings if b.role == "primary")
    lines += ["}", "", f"/** Binding names, for withSecretMemo(env, {const}). */",
              f"export const {const} = [{names}] as const;",
              ""]
    return lines
