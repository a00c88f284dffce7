"""Import: draft manifest entries from the secrets a live Worker already has (names, never values)."""

from __future__ import annotations

import re

from ..core.desired_state import SECRET_TYPES, store_secret_name_in
from ..core.estate import Estate
from ..core.naming import FALLBACK_SUFFIX, PREVIOUS_SUFFIX, is_binding_name, previous_store_secret_name
from ..core.text import one_line, yaml_scalar
from .account import LiveAccount


def _guess_provider(name: str) -> str:
    head = re.sub(r"[^a-z0-9]+", "", re.split(r"[_-]", name.lower())[0])
    return head or "unknown"


def draft_import(estate: Estate, stack: str, worker: str, script: str, live: LiveAccount) -> tuple[str, list[str]]:
    """Returns (YAML text, notes). Raises nothing for a missing Worker: the note says so."""
    state = live.worker(script)
    if state is None:
        return "", [f"script '{script}' does not exist in account {live.account_id}"]
    # What serves: the bindings of every served version, the largest share first.
    bindings: dict[str, dict[str, object]] = {}
    for version, _ in sorted(state.served, key=lambda served: -served[1]):
        for name, binding in version.bindings.items():
            bindings.setdefault(name, binding)
    m = estate.manifest.manifest
    settings = estate.stacks[stack].settings
    by_store_name = {store_secret_name_in(m, settings, s): s for s in m.secrets}
    by_store_name.update({previous_store_secret_name(n): s for n, s in list(by_store_name.items())})
    found: list[tuple[str, str, str]] = []  # binding name, type, secret name it maps to

    def secret_of(name: str, binding: dict[str, object]) -> str:
        # A fallback copy or a previous value the plane derives from another binding on this
        # Worker is that binding's secret, not a new one.
        for suffix in (PREVIOUS_SUFFIX + FALLBACK_SUFFIX, PREVIOUS_SUFFIX, FALLBACK_SUFFIX):
            stem = name[:-len(suffix)]
            if name.endswith(suffix) and stem in bindings and stem != name:
                return secret_of(stem, bindings[stem])
        if binding.get("type") == "secrets_store_secret":
            return by_store_name.get(str(binding.get("secret_name")), str(binding.get("secret_name")))
        return name

    derived: list[str] = []
    for name, binding in sorted(bindings.items()):
        kind = str(binding.get("type"))
        if kind not in SECRET_TYPES:
            continue
        secret = secret_of(name, binding)
        if secret in m.secrets and any(name.endswith(x) and name[:-len(x)] in bindings
                                       for x in (PREVIOUS_SUFFIX, FALLBACK_SUFFIX)):
            derived.append(name)
            continue
        found.append((name, kind, secret))
    known = [f for f in found if f[2] in m.secrets]
    new = [f for f in found if f[2] not in m.secrets]
    notes = [f"{len(found)} secret bindings on '{script}': {len(known)} already in the manifest"
             + (f" ({', '.join(sorted({k[2] for k in known}))})" if known else "") + f", {len(new)} new"]
    if derived:
        notes.append(f"{len(derived)} left out, derived by the plane from another binding (a fallback copy or a "
                     f"previous value): {', '.join(one_line(n) for n in derived)}")
    # The names come from the API, the keys from the command line: each is written as a YAML scalar
    # that reads back as exactly that text, and comments hold them on one line.
    q = yaml_scalar
    lines = [f"# Draft from live Worker '{one_line(script)}' (stack {stack}): names and types only, never values.",
             "# Fill in description, owner, provider and rotation_days, then merge into secrets_manifest.yaml."]
    if new:
        lines.append("secrets:")
        for _, kind, secret in new:
            lines += [f"  {q(secret)}:  # live as {one_line(kind)}",
                      "    description: TODO",
                      "    owner: TODO",
                      f"    provider: {_guess_provider(secret)}",
                      "    rotation_days: 90"]
    existing = m.workers.get(worker)
    lines += ["workers:", f"  {q(worker)}:"]
    if existing is None:
        lines += ["    script_name:", f"      {q(stack)}: {q(script)}", f"    stacks: [{q(stack)}]"]
    else:
        lines.append(f"    # '{one_line(worker)}' exists in the manifest: merge the lists below into it")
    plain = sorted(n for n, _, s in found if n == s)
    renamed = sorted((n, s) for n, _, s in found if n != s)
    lines.append("    secrets:" + (" []" if not plain else ""))
    lines += [f"      - {q(n)}" for n in plain]
    if renamed:
        lines.append("    bindings:")
        lines += [f"      {q(n)}: {q(s)}" for n, s in renamed]
    for n, _, _ in found:
        if not is_binding_name(n):
            notes.append(f"binding {q(n)} is not a JavaScript identifier: rename it in the draft")
    return "\n".join(lines) + "\n", notes
