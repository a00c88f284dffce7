"""Apply scenarios the way `pulumi up` would, and count what each costs.

Each scenario evaluates the real program under mocks before and after a change, compares every
resource's inputs by URN (what `up` would create, update or delete), then drives the
WorkerSecretBindings changes through the real dynamic-provider host against the fake Cloudflare
API, which counts settings reads, writes and Worker versions. The same change is also priced as
`wrangler secret put` (one call and one version per Worker and secret).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_cloudflare import FakeCloudflare  # noqa: E402
from provider_host import ProviderHost  # noqa: E402

from bench.estate import ACCOUNT, STACK, config, manifest, write_project  # noqa: E402
from stacks.resources.offline import ProgramRun, reveal, run_program  # noqa: E402

BINDINGS = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"
STORE_SECRET = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"


@dataclass
class Cost:
    scenario: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    store_secret_creates: int = 0
    store_secret_updates: int = 0
    store_secret_deletes: int = 0
    settings_reads: int = 0
    settings_writes: int = 0
    worker_versions: int = 0
    wrangler_calls: int = 0
    wrangler_versions: int = 0
    updated_names: list[str] = field(default_factory=list)


class Estate:
    """A live fake account plus the engine-side state of every WorkerSecretBindings."""

    def __init__(self, workdir: Path, s: int, w: int, k: int):
        self.workdir, self.s, self.w, self.k = workdir, s, w, k
        self.fake = FakeCloudflare().start()
        self.host = ProviderHost({"CLOUDFLARE_API_TOKEN": "bench", "CLOUDFLARE_BASE_URL": self.fake.base_url})
        self.state: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.run_no = 0

    def close(self) -> None:
        self.host.close()
        self.fake.stop()

    def evaluate(self, data: dict, values: dict[str, str] | None = None) -> ProgramRun:
        self.run_no += 1
        project = write_project(self.workdir / f"run{self.run_no}", data)
        return run_program(project, STACK, config(data, values), ["secrets-plane:values"])

    def apply(self, name: str, data: dict, values: dict[str, str] | None = None) -> Cost:
        run = self.evaluate(data, values)
        for res in run.of_type(BINDINGS):
            script = res.inputs["script_name"]
            if (ACCOUNT, script) not in self.fake.scripts:
                self.fake.add_script(ACCOUNT, script, [{"type": "plain_text", "name": "ENV", "text": STACK}])
        new = {r.urn: r for r in run.resources}
        cost = Cost(name)
        reads, writes, versions = self._counters()
        for urn, res in new.items():
            inputs = reveal(res.inputs)
            inputs.pop("__provider", None)
            old = self.inputs.get(urn)
            if res.type == BINDINGS:
                # The engine diffs every resource; the provider's Diff decides whether to update.
                props = {k: inputs[k] for k in ("account_id", "script_name", "worker", "bindings", "values")}
                self.state[urn], action = self.host.up(res.name, self.state.get(urn), props)
                cost.created += action == "create"
                cost.updated += action == "update"
                if action == "update":
                    cost.updated_names.append(res.name)
            elif old is None:
                cost.created += 1
                cost.store_secret_creates += res.type == STORE_SECRET
            elif old != inputs:
                cost.updated += 1
                cost.updated_names.append(res.name)
                cost.store_secret_updates += res.type == STORE_SECRET
            self.inputs[urn] = inputs
        for urn in [u for u in self.inputs if u not in new]:
            old = self.inputs.pop(urn)
            cost.deleted += 1
            if "secretsStoreSecret" in urn:
                cost.store_secret_deletes += 1
            if urn in self.state:
                state = self.state.pop(urn)
                self.host.delete(urn.rsplit("::", 1)[1], state["_id"], {k: v for k, v in state.items() if k != "_id"})
        r2, w2, v2 = self._counters()
        cost.settings_reads, cost.settings_writes, cost.worker_versions = r2 - reads, w2 - writes, v2 - versions
        return cost

    def refresh(self) -> None:
        for urn, state in list(self.state.items()):
            _, outs = self.host.read(urn.rsplit("::", 1)[1], state["_id"],
                                     {k: v for k, v in state.items() if k != "_id"})
            outs.pop("__provider", None)
            self.state[urn] = {**outs, "_id": state["_id"]}

    def _counters(self) -> tuple[int, int, int]:
        return (self.fake.count("GET", r"/settings$"), self.fake.settings_writes(),
                sum(self.fake.versions().values()))


def wrangler_cost(cost: Cost, calls: int, versions: int) -> Cost:
    cost.wrangler_calls, cost.wrangler_versions = calls, versions
    return cost


def run_scenarios(workdir: Path, s: int, w: int, k: int) -> list[Cost]:
    """First apply, rotation, add a Worker, remove a secret, the flip, and a no-op after refresh."""
    base = manifest(s, w, k)
    bindings_per_secret: dict[str, int] = {}
    for worker in base["workers"].values():
        for name in worker["secrets"]:
            bindings_per_secret[name] = bindings_per_secret.get(name, 0) + 1
    total_bindings = sum(bindings_per_secret.values())
    estate = Estate(workdir, s, w, k)
    try:
        costs = []
        first = estate.apply("first legacy apply", base)
        costs.append(wrangler_cost(first, total_bindings, total_bindings))
        rotated = estate.apply("rotate S000 (legacy, bound by every Worker)", base, {"S000": "rotated-1"})
        costs.append(wrangler_cost(rotated, bindings_per_secret["S000"], bindings_per_secret["S000"]))
        grown = manifest(s, w, k, extra_workers=1)
        added = estate.apply("add one Worker", grown, {"S000": "rotated-1"})
        new_worker = grown["workers"][f"w{w:03d}"]["secrets"]
        costs.append(wrangler_cost(added, len(new_worker), len(new_worker)))
        victim = "S001"
        shrunk = manifest(s, w, k, extra_workers=1, drop_secret=victim)
        removed = estate.apply(f"remove one secret ({victim})", shrunk, {"S000": "rotated-1"})
        holders = sum(1 for wk in grown["workers"].values() if victim in wk["secrets"])
        costs.append(wrangler_cost(removed, holders, holders))
        flipped_data = {**shrunk, "backend": "store"}
        flip = estate.apply("flip legacy -> store", flipped_data, {"S000": "rotated-1"})
        n_bind = sum(len(wk["secrets"]) for wk in shrunk["workers"].values())
        # wrangler: create each store secret, redeploy each Worker with secrets_store_secrets, delete
        # each old secret_text copy (one version each).
        costs.append(wrangler_cost(flip, len(shrunk["secrets"]) + len(shrunk["workers"]) + n_bind,
                                   len(shrunk["workers"]) + n_bind))
        store_rotation = estate.apply("rotate S000 (store)", flipped_data, {"S000": "rotated-2"})
        # wrangler's way is still one `secret put` and one version per Worker holding it.
        holders_s0 = sum(1 for wk in shrunk["workers"].values() if "S000" in wk["secrets"])
        costs.append(wrangler_cost(store_rotation, holders_s0, holders_s0))
        estate.refresh()
        noop = estate.apply("no-op apply after refresh", flipped_data, {"S000": "rotated-2"})
        costs.append(wrangler_cost(noop, 0, 0))
        return costs
    finally:
        estate.close()
