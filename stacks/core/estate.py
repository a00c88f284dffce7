"""The whole estate: the manifest plus every stack file, and the rules that span them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .backends import Backend
from .desired_state import DesiredState, WorkerState, build_desired_state, stack_secret_names, store_secret_name_in
from .errors import Location, PlaneError, Problem, ProblemCollector, did_you_mean
from .externals import external_needs
from .limits import STORE_SECRETS_PER_ACCOUNT, WORKER_ENV_VARS_MAX
from .manifest import LoadedManifest, read_manifest_file
from .naming import previous_store_secret_name, script_name
from .sample_ids import sample_ids
from .stack_config import NAMESPACE, LoadedStack, discover_stacks, load_stack_file, set_value_command

MANIFEST_FILE = "secrets_manifest.yaml"
# The manifest the Pulumi program reads when a command that runs it (`rotate`, `retire`, `scope`)
# was given `--manifest FILE`: the command sets it for the `pulumi` it starts, and nothing else.
MANIFEST_ENV = "SECRETS_PLANE_MANIFEST"


@dataclass
class Estate:
    project_dir: Path
    manifest: LoadedManifest
    stacks: dict[str, LoadedStack]
    problems: ProblemCollector = field(default_factory=ProblemCollector)
    _desired: dict[tuple[str, Backend | None], DesiredState] = field(default_factory=dict, repr=False)

    @property
    def manifest_file(self) -> str:
        """The manifest's name as the command was given it (`--manifest`), relative to the project."""
        return self.manifest.doc.file

    def warnings_for(self, stack: str) -> list[Problem]:
        """The warnings a run of `stack` shows: all but the sample ids of another stack's file
        (validate shows every one; a plan of staging is no place for prod's)."""
        others = {p.render() for name, loaded in self.stacks.items() if name != stack for p in sample_ids(loaded)}
        return [p for p in self.problems.warnings if p.render() not in others]

    def desired_state(self, stack: str, backend: Backend | None = None) -> DesiredState:
        """The stack's desired state (with `backend` pinned, if given), computed once."""
        key = (stack, backend)
        if key not in self._desired:
            settings = self.stacks[stack].settings
            if backend is not None:
                settings = settings.model_copy(update={"backend": backend})
            self._desired[key] = build_desired_state(self.manifest.manifest, settings)
        return self._desired[key]

    def desired_worker(self, stack: str, worker_name: str) -> WorkerState:
        """One Worker of the stack's desired state, or an error naming the Workers the stack has."""
        workers = self.desired_state(stack).workers
        worker = next((w for w in workers if w.worker == worker_name), None)
        if worker is None:
            known = [w.worker for w in workers]
            raise PlaneError.at(self.manifest_file, f"workers.{worker_name}", f"no Worker '{worker_name}' in stack {stack}",
                                did_you_mean(worker_name, known) or f"Workers in {stack}: {', '.join(known)}")
        return worker


_LOADED: dict[tuple[str, str, bool, bytes], Estate] = {}


def _fingerprint(project_dir: Path, manifest_file: str) -> bytes | None:
    digest = hashlib.sha256()
    try:
        for path in [project_dir / manifest_file, *sorted(project_dir.glob("Pulumi.*.yaml"))]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.digest()


def load_estate(project_dir: Path, manifest_file: str = MANIFEST_FILE, require_values: bool = False) -> Estate:
    """Load and check everything; raises PlaneError listing every error found. Loaded once per
    process for the same files: the offline plan loads the estate, then runs the program, which
    loads it again."""
    fingerprint = _fingerprint(project_dir, manifest_file)
    key = (str(project_dir.resolve()), manifest_file, require_values, fingerprint or b"")
    if fingerprint is not None and key in _LOADED:
        return _LOADED[key]
    estate = _load_estate(project_dir, manifest_file, require_values)
    if fingerprint is not None:
        _LOADED.clear()  # one estate at a time is all a command needs
        _LOADED[key] = estate
    return estate


def _load_estate(project_dir: Path, manifest_file: str, require_values: bool) -> Estate:
    errors: list[Problem] = []
    manifest, manifest_errors = read_manifest_file(project_dir / manifest_file, manifest_file)
    errors.extend(manifest_errors)
    stacks: dict[str, LoadedStack] = {}
    names = discover_stacks(project_dir)
    if not names:
        errors.append(Problem(Location("Pulumi.<stack>.yaml"), f"no stack files found in {project_dir.resolve()}",
                              "add Pulumi.staging.yaml and Pulumi.prod.yaml there (see docs/getting-started.md)"))
    for name in names:
        try:
            stacks[name] = load_stack_file(project_dir, name)
        except PlaneError as exc:
            errors.extend(exc.problems)
    if errors or manifest is None:
        if manifest is not None and stacks:
            errors.extend(_spanning_errors(Estate(project_dir, manifest, stacks), set(names) - set(stacks)))
        raise PlaneError(errors)
    estate = Estate(project_dir, manifest, stacks)
    estate.problems.extend(manifest.warnings)
    check_estate(estate, estate.problems, require_values)
    estate.problems.raise_if_errors()
    return estate


def _spanning_errors(estate: Estate, unread: set[str]) -> list[Problem]:
    """The rules that span the files, run beside errors in them, so one run reports them all:
    over the stack files that loaded and the manifest's stand-in (what they say of a broken entry,
    or of a stack whose file did not load, is left out: that is the error already shown)."""
    out = ProblemCollector()
    check_estate(estate, out, require_values=False)
    return [p for p in out.errors if not estate.manifest.about_broken(p)
            and not any(f"unknown stack '{name}'" in p.message for name in unread)]


def check_estate(estate: Estate, out: ProblemCollector, require_values: bool) -> None:
    m = estate.manifest.manifest
    loc = estate.manifest.location
    for wname, worker in m.workers.items():
        for i, listed in enumerate(worker.stacks):
            if listed not in estate.stacks:
                hint = did_you_mean(listed, estate.stacks) or f"known stacks: {', '.join(sorted(estate.stacks))}"
                out.error(loc("workers", wname, "stacks", i), f"Worker '{wname}' names unknown stack '{listed}'",
                          hint + f" (a stack exists when Pulumi.{listed}.yaml does)")
    for sname, spec in m.secrets.items():
        for listed in spec.store_names:
            if listed not in estate.stacks:
                hint = did_you_mean(listed, estate.stacks) or f"known stacks: {', '.join(sorted(estate.stacks))}"
                out.error(loc("secrets", sname, "store_names", listed),
                          f"secret '{sname}' names its store secret in unknown stack '{listed}'", hint)

    for secret, spec in m.secrets.items():
        for listed in spec.gateways:
            if listed not in estate.stacks:
                hint = did_you_mean(listed, estate.stacks) or f"known stacks: {', '.join(sorted(estate.stacks))}"
                out.error(loc("secrets", secret, "gateways", listed),
                          f"the gateways of secret '{secret}' name unknown stack '{listed}'",
                          hint + f" (a stack exists when Pulumi.{listed}.yaml does)")

    for stack_name in sorted(estate.stacks):
        owners_by_script: dict[str, str] = {}
        for wname in sorted(m.workers):
            worker = m.workers[wname]
            if stack_name not in worker.stacks or (isinstance(worker.script_name, dict)
                                                   and stack_name not in worker.script_name):
                continue
            script = script_name(worker, stack_name)
            if script in owners_by_script:
                out.error(loc("workers", wname, "script_name"),
                          f"script '{script}' is used by Workers '{owners_by_script[script]}' and '{wname}' in stack "
                          f"'{stack_name}'", "one Worker entry per script: merge the two entries or rename one script")
            owners_by_script[script] = wname

    by_account: dict[str, list[str]] = defaultdict(list)
    desired_by_stack: dict[str, DesiredState] = {}
    for name, stack in estate.stacks.items():
        settings = stack.settings
        by_account[settings.account_id].append(name)
        out.extend(sample_ids(stack))
        try:
            desired = estate.desired_state(name)
        except PlaneError as exc:
            for problem in exc.problems:
                # The `store` key, or the `config:` line it belongs under when the file has none.
                out.error(stack.location("store"), problem.message, problem.hint)
            cause = _store_cause(estate, name)
            if cause is not None:
                out.error(cause[0], f"this is what puts stack '{name}' on the store: {cause[1]}",
                          f"name a store in Pulumi.{name}.yaml, or pin `{NAMESPACE}:backend: legacy` there")
            continue
        desired_by_stack[name] = desired
        _check_values(estate, name, desired, out, require_values)
        _check_env_var_counts(estate, desired, out)
        _check_external_needs(estate, desired, out)

    _check_fallback_use(estate, desired_by_stack, out)
    _check_fallback_skips_external(estate, desired_by_stack, out)
    for account, stack_names in sorted(by_account.items()):
        _check_account(estate, account, stack_names, desired_by_stack, out)


def _store_cause(estate: Estate, stack: str) -> tuple[Location, str] | None:
    """The manifest or stack setting that made a stack put something in the store."""
    m = estate.manifest.manifest
    loc = estate.manifest.location
    settings = estate.stacks[stack].settings
    if settings.backend == "store":
        return estate.stacks[stack].location("backend"), f"its pin `{NAMESPACE}:backend: store`"
    if m.backend == "store":
        return loc("backend"), "the manifest's `backend: store`"
    for wname, worker in sorted(m.workers.items()):
        if worker.backend == "store" and stack in worker.stacks:
            return loc("workers", wname, "backend"), f"Worker '{wname}' says `backend: store`"
    for sname, spec in sorted(m.secrets.items()):
        if spec.backend == "store" and sname in stack_secret_names(m, stack):
            return loc("secrets", sname, "backend"), f"secret '{sname}' says `backend: store`"
    return None


def _check_env_var_counts(estate: Estate, desired: DesiredState, out: ProblemCollector) -> None:
    for worker in desired.workers:
        count = sum(1 for b in worker.bindings if b.kind == "secret_text")
        if count > WORKER_ENV_VARS_MAX:
            out.error(estate.manifest.location("workers", worker.worker),
                      f"Worker '{worker.worker}' would hold {count} secret_text bindings in stack '{desired.stack}', "
                      f"over the Workers limit of {WORKER_ENV_VARS_MAX} environment variables (secret and text "
                      "combined)", "move some secrets to the store (`backend: store`) or drop fallback copies")


def _check_external_needs(estate: Estate, desired: DesiredState, out: ProblemCollector) -> None:
    """Every external secret the stack binds must exist before the apply, by the rule plan and
    diff show (externals.py): in the store by name (else `pulumi up` fails), or on each Worker
    (else the Worker runs without it). Say so before, with the commands that make each one."""
    for need in external_needs(desired):
        bound = f" (bound by {', '.join(need.scripts)})" if need.scripts else ""
        if need.kind == "store":
            how, outcome = f"through the store{bound}", "or the apply fails"
        else:
            how, outcome = "as a Worker secret", "or the Worker runs without it (the plane binds it, never sets it)"
        out.warning(estate.manifest.location("secrets", need.secret, "external"),
                    f"stack '{desired.stack}' binds external secret '{need.secret}' {how}: it must "
                    f"already exist {need.where(desired)}, {outcome}",
                    f"create it: {'; '.join(need.commands(desired))} (wrangler asks for the value)")


def _check_fallback_skips_external(estate: Estate, desired_by_stack: dict[str, DesiredState],
                                   out: ProblemCollector) -> None:
    """A Worker's `fallback: true` gives a copy to each store binding it owns the value of: an
    external secret gets none, which the manifest does not show. Say which."""
    m = estate.manifest.manifest
    for wname, worker in sorted(m.workers.items()):
        if not worker.fallback:
            continue
        skipped = sorted({b.name for d in desired_by_stack.values() for w in d.workers if w.worker == wname
                          for b in w.bindings if b.kind == "secrets_store_secret" and m.secrets[b.secret].external})
        if skipped:
            out.warning(estate.manifest.location("workers", wname, "fallback"),
                        f"Worker '{wname}' asks for fallback copies, but {', '.join(skipped)} get(s) none: "
                        "external secrets have no value the plane could copy",
                        "set such a copy yourself (wrangler secret put <NAME>_FALLBACK --name <script>) or accept "
                        "that these bindings have no fallback")


def _check_fallback_use(estate: Estate, desired_by_stack: dict[str, DesiredState], out: ProblemCollector) -> None:
    """`fallback: true` on a secret that no Worker binds through the store anywhere does nothing."""
    m = estate.manifest.manifest
    copied = {b.secret for d in desired_by_stack.values() for w in d.workers for b in w.bindings if b.role == "fallback"}
    for name, spec in sorted(m.secrets.items()):
        if spec.fallback and not spec.external and name not in copied:
            out.warning(estate.manifest.location("secrets", name, "fallback"),
                        f"secret '{name}' asks for a fallback copy, but no Worker binds it through the store in any "
                        "stack, so there is nothing to fall back from",
                        "remove `fallback`, or move a Worker binding it to the store")


def _check_byok_names(estate: Estate, account: str, stack: str, desired: DesiredState | None, owners: dict[str, str],
                      out: ProblemCollector) -> None:
    """A BYOK key's store secret shares the account's one store with every stack's secrets."""
    for key in desired.byok_keys if desired is not None else ():
        other = owners.get(key.store_secret_name)
        if other is not None:
            out.error(estate.manifest.location("secrets", key.secret, "gateways", stack),
                      f"BYOK store secret name '{key.store_secret_name}' of stack '{stack}' collides with a store "
                      f"secret of stack '{other}' on account {account}",
                      "give each stack its own gateway, or another `alias`, or rename the other secret")
            continue
        owners[key.store_secret_name] = stack


def _check_account(estate: Estate, account: str, stack_names: list[str], desired_by_stack: dict[str, DesiredState],
                   out: ProblemCollector) -> None:
    m = estate.manifest.manifest
    owners: dict[str, str] = {}
    claimed: dict[tuple[str, str], str] = {}  # (stack, store secret name) -> the manifest secret
    potential: dict[str, int] = {}
    for name in sorted(stack_names):
        settings = estate.stacks[name].settings
        secrets = stack_secret_names(m, name)
        # A secret with overlap is two store secrets: its value and its previous value.
        names = [(secret, store_name) for secret in secrets
                 for store_name in ([store_secret_name_in(m, settings, secret)]
                                    + ([previous_store_secret_name(store_secret_name_in(m, settings, secret))]
                                       if m.secrets[secret].overlap_days is not None and not m.secrets[secret].external
                                       else []))]
        potential[name] = len(names)
        # Names are checked over every secret a stack could put in the store: a collision would
        # otherwise surface only on the day of the flip.
        for secret, store_name in names:
            taker = claimed.get((name, store_name))
            if taker is not None and taker != secret:
                out.error(estate.manifest.location("secrets", secret),
                          f"store secret '{store_name}' of stack '{name}' would hold both '{taker}' and '{secret}' "
                          "(one of them as the previous value of a secret with overlap)",
                          "rename one of the secrets, or drop `overlap_days`")
                break
            claimed[(name, store_name)] = secret
            other = owners.get(store_name)
            if other is not None and other != name:
                out.error(estate.stacks[name].location("secretName"),
                          f"store secret name '{store_name}' of stack '{name}' collides with stack '{other}' "
                          f"on account {account}",
                          f"stacks sharing an account need distinct names: set `{NAMESPACE}:secretName` "
                          f"to e.g. '{{name}}_{name.upper()}'")
                break
            owners[store_name] = name
        _check_byok_names(estate, account, name, desired_by_stack.get(name), owners, out)
        potential[name] += len(desired_by_stack[name].byok_keys) if name in desired_by_stack else 0
    planned = {n: desired_by_stack[n].store_secret_count for n in stack_names if n in desired_by_stack}
    where = estate.stacks[sorted(stack_names)[0]].location("accountId")
    hint = "drop unused secrets, bind fewer secrets in one stack, or move a stack to its own account"
    if sum(planned.values()) > STORE_SECRETS_PER_ACCOUNT:
        detail = ", ".join(f"{n}: {planned[n]}" for n in sorted(planned))
        out.error(where, f"account {account} would hold {sum(planned.values())} store secrets ({detail}), over "
                         f"Cloudflare's limit of {STORE_SECRETS_PER_ACCOUNT} per account", hint)
    elif sum(potential.values()) > STORE_SECRETS_PER_ACCOUNT:
        detail = ", ".join(f"{n}: {potential[n]}" for n in sorted(potential))
        out.warning(where, f"account {account} would hold {sum(potential.values())} store secrets ({detail}) once "
                           f"every stack is on the store, over Cloudflare's limit of {STORE_SECRETS_PER_ACCOUNT} "
                           "per account", hint)


def _check_values(estate: Estate, name: str, desired: DesiredState, out: ProblemCollector,
                  require_values: bool) -> None:
    stack = estate.stacks[name]
    m = estate.manifest.manifest
    needed = set(desired.needed_values)
    missing = sorted(needed - set(stack.settings.value_names))
    if missing:
        message = f"{len(missing)} value(s) not set for stack '{name}' ({desired.mode}): {', '.join(missing)}"
        hint = (f"load them all: python -m stacks values load --stack {name} FILE (dotenv or JSON; `-` reads stdin), "
                f"or set one: {set_value_command(name, '<NAME>')}")
        if require_values:
            out.error(stack.location("values"), message, hint)
        else:
            out.warning(stack.location("values"), message + "; fine if a Pulumi ESC environment provides them", hint)
    for secret in sorted(set(stack.settings.value_names)):
        if secret not in m.secrets:
            out.warning(stack.location("values", secret), f"value set for '{secret}', which the manifest does not declare",
                        did_you_mean(secret, m.secrets)
                        or f"remove it: pulumi config rm --path '{NAMESPACE}:values.{secret}' --stack {name}")
        elif m.secrets[secret].external:
            out.warning(stack.location("values", secret), f"value set for '{secret}', which is external: the plane "
                        "never writes it, so this value is ignored",
                        "drop `external: true` to let the plane own it, or remove the value: "
                        f"pulumi config rm --path '{NAMESPACE}:values.{secret}' --stack {name}")
    _check_previous(estate, name, desired, out)


def _check_previous(estate: Estate, name: str, desired: DesiredState, out: ProblemCollector) -> None:
    """`previous` entries: each for a secret with overlap this stack holds, and each window not
    past its day (a window past it still lets the old value in: retire it)."""
    stack = estate.stacks[name]
    m = estate.manifest.manifest
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for secret, day in sorted(stack.settings.previous.items()):
        where = stack.location("previous", secret)
        if secret not in m.secrets or m.secrets[secret].overlap_days is None or desired.overlap(secret) is None:
            why = ("the manifest does not declare it" if secret not in m.secrets else
                   "it has no `overlap_days`" if m.secrets[secret].overlap_days is None else
                   f"stack '{name}' does not hold it")
            out.warning(where, f"a previous value is set for '{secret}', but {why}: it is ignored",
                        f"remove it: pulumi config rm --path '{NAMESPACE}:previous.{secret}' --stack {name}")
        elif day < today:
            out.warning(where, f"the overlap window of '{secret}' on stack '{name}' ended on {day}: its previous value "
                        "is still readable as _PREVIOUS",
                        f"retire it: python -m stacks retire {secret} --stack {name}")
    # `rotate` writes the retire day before the value: a run stopped between them left a day alone.
    for secret in sorted(set(stack.doc_previous_days()) - set(stack.settings.previous)):
        out.warning(stack.location("previous", secret), f"the previous entry of '{secret}' has a retire day and no "
                    "value (a rotation stopped before it kept one): it is ignored, no window is open",
                    f"run the rotation again, or remove it: pulumi config rm --path '{NAMESPACE}:previous.{secret}' "
                    f"--stack {name}")
