"""The whole estate: the manifest plus every stack file, and the rules that span them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .desired_state import DesiredState, build_desired_state, stack_secret_names
from .errors import Location, PlaneError, Problem, ProblemCollector, did_you_mean
from .manifest import LoadedManifest, load_manifest
from .naming import script_name
from .stack_config import NAMESPACE, LoadedStack, discover_stacks, load_stack_file, set_value_command

MANIFEST_FILE = "secrets_manifest.yaml"
STORE_SECRETS_PER_ACCOUNT = 100


@dataclass
class Estate:
    project_dir: Path
    manifest: LoadedManifest
    stacks: dict[str, LoadedStack]
    problems: ProblemCollector = field(default_factory=ProblemCollector)

    def desired_state(self, stack: str, backend: str | None = None) -> DesiredState:
        settings = self.stacks[stack].settings
        if backend is not None:
            settings = settings.model_copy(update={"backend": backend})
        return build_desired_state(self.manifest.manifest, settings)


def load_estate(project_dir: Path, manifest_file: str = MANIFEST_FILE, require_values: bool = False) -> Estate:
    """Load and check everything; raises PlaneError listing every error found."""
    errors: list[Problem] = []
    manifest: LoadedManifest | None = None
    try:
        manifest = load_manifest(project_dir / manifest_file, manifest_file)
    except PlaneError as exc:
        errors.extend(exc.problems)
    stacks: dict[str, LoadedStack] = {}
    names = discover_stacks(project_dir)
    if not names:
        errors.append(Problem(Location("Pulumi.<stack>.yaml"), "no stack files found",
                              "add Pulumi.staging.yaml and Pulumi.prod.yaml (see README.md)"))
    for name in names:
        try:
            stacks[name] = load_stack_file(project_dir, name)
        except PlaneError as exc:
            errors.extend(exc.problems)
    if errors or manifest is None:
        raise PlaneError(errors)
    estate = Estate(project_dir, manifest, stacks)
    estate.problems.extend(manifest.warnings)
    check_estate(estate, estate.problems, require_values)
    estate.problems.raise_if_errors()
    return estate


def check_estate(estate: Estate, out: ProblemCollector, require_values: bool) -> None:
    m = estate.manifest.manifest
    loc = estate.manifest.location
    for wname, worker in m.workers.items():
        for i, listed in enumerate(worker.stacks):
            if listed not in estate.stacks:
                hint = did_you_mean(listed, estate.stacks) or f"known stacks: {', '.join(sorted(estate.stacks))}"
                out.error(loc("workers", wname, "stacks", i), f"Worker '{wname}' names unknown stack '{listed}'",
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
    for name, stack in estate.stacks.items():
        settings = stack.settings
        by_account[settings.account_id].append(name)
        try:
            desired = estate.desired_state(name)
        except PlaneError as exc:
            for problem in exc.problems:
                out.error(stack.location("store"), problem.message, problem.hint)
            continue
        _check_values(estate, name, desired, out, require_values)

    for account, stack_names in sorted(by_account.items()):
        owners: dict[str, str] = {}
        counts: dict[str, int] = {}
        for name in sorted(stack_names):
            settings = estate.stacks[name].settings
            secrets = stack_secret_names(m, name)
            counts[name] = len(secrets)
            for secret in secrets:
                store_name = settings.store_secret_name(secret)
                other = owners.get(store_name)
                if other is not None and other != name:
                    out.error(estate.stacks[name].location("secretName"),
                              f"store secret name '{store_name}' of stack '{name}' collides with stack '{other}' "
                              f"on account {account}",
                              f"stacks sharing an account need distinct names: set `{NAMESPACE}:secretName` "
                              f"to e.g. '{{name}}_{name.upper()}'")
                    break
                owners[store_name] = name
        total = sum(counts.values())
        on_store = [n for n in stack_names if estate.stacks[n].settings.effective_backend(m.backend) == "store"]
        if total > STORE_SECRETS_PER_ACCOUNT:
            detail = ", ".join(f"{n}: {counts[n]}" for n in sorted(counts))
            message = (f"account {account} would hold {total} store secrets ({detail}), over Cloudflare's limit "
                       f"of {STORE_SECRETS_PER_ACCOUNT} per account")
            hint = "drop unused secrets, bind fewer secrets in one stack, or move a stack to its own account"
            where = estate.stacks[sorted(stack_names)[0]].location("accountId")
            if on_store:
                out.error(where, message, hint)
            else:
                out.warning(where, message + " once the store backend is on", hint)


def _check_values(estate: Estate, name: str, desired: DesiredState, out: ProblemCollector,
                  require_values: bool) -> None:
    stack = estate.stacks[name]
    backend = desired.backend
    needed = set(desired.needed_values)
    missing = sorted(needed - set(stack.settings.value_names))
    if missing:
        message = f"{len(missing)} value(s) not set for stack '{name}' ({backend} backend): {', '.join(missing)}"
        hint = f"set each with: {set_value_command(name, '<NAME>')}"
        if require_values:
            out.error(stack.location("values"), message, hint)
        else:
            out.warning(stack.location("values"), message + "; fine if a Pulumi ESC environment provides them", hint)
    unused = sorted(set(stack.settings.value_names) - set(estate.manifest.manifest.secrets))
    for secret in unused:
        out.warning(stack.location("values", secret), f"value set for '{secret}', which the manifest does not declare",
                    did_you_mean(secret, estate.manifest.manifest.secrets)
                    or f"remove it: pulumi config rm --path '{NAMESPACE}:values.{secret}' --stack {name}")
