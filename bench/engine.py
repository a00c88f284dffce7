"""An apply the way `pulumi up` makes one, against the fake Cloudflare API, counted there.

The real program is evaluated under mocks before and after a change; resources are compared by
URN (create, update, delete, same). WorkerSecretBindings go through the real dynamic-provider
host, `parallel` at a time as the engine sends them (the host itself serves 4 at once:
ThreadPoolExecutor(max_workers=4) in pulumi/dynamic/__main__.py). SecretsStoreSecret resources
are handled by pulumi-cloudflare in a real run; here they make the one API call that provider's
create, update, delete or read makes (a POST, PATCH, DELETE or GET of the store secret), through
the official SDK, so the fake sees and counts them. Store secrets are created before the bindings
that need them and deleted after, as the engine orders them by dependency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fake_cloudflare import FakeCloudflare
from provider_host import ProviderHost

from stacks.api.client import make_client
from stacks.api.ratelimit import PACER
from stacks.core.naming import BINDINGS_TYPE, STORE_SECRET_TYPE
from stacks.resources.offline import ProgramRun, reveal

ENGINE_PARALLELISM = 16  # what the workflow passes (`parallel: 16`)


@dataclass
class Cost:
    scenario: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    store_created: int = 0
    store_updated: int = 0
    store_deleted: int = 0
    api_calls: int = 0
    settings_writes: int = 0
    bulk_writes: int = 0
    worker_versions: int = 0
    seconds: float = 0.0
    waited_s: float = 0.0
    longest_wait_s: float = 0.0  # the longest any one provider operation waited
    rate_limited: int = 0  # 429s the account's limit answered
    updated_names: list[str] = field(default_factory=list)


class Engine:
    """The engine's state of one stack (every resource's inputs and outputs) and a live fake account."""

    def __init__(self, fake: FakeCloudflare, account: str, store_id: str, parallel: int = ENGINE_PARALLELISM,
                 env: dict[str, str] | None = None):
        self.fake, self.account, self.store_id, self.parallel = fake, account, store_id, parallel
        # Started as the engine starts a provider plugin: with the engine's address, where the
        # provider says what it waits for (host.engine.messages).
        self.host = ProviderHost({"CLOUDFLARE_API_TOKEN": "bench", "CLOUDFLARE_BASE_URL": fake.base_url,
                                  **(env or {})}, engine=True)
        self.inputs: dict[str, dict[str, Any]] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.store_ids: dict[str, str] = {}  # URN -> store secret id

    def close(self) -> None:
        self.host.close()

    # ---- counting ----------------------------------------------------------------------------
    def _counters(self) -> tuple[int, int, int, int, int, float]:
        limited = self.fake.ratelimit.limited if self.fake.ratelimit else 0
        return (len(self.fake.calls), self.fake.settings_writes(), self.fake.bulk_writes(),
                sum(self.fake.versions().values()), limited, PACER.total.waited_s)

    def measure(self, name: str, work: Callable[[Cost], None]) -> Cost:
        cost = Cost(name)
        before = self._counters()
        started = time.monotonic()
        work(cost)
        cost.seconds = time.monotonic() - started
        after = self._counters()
        (cost.api_calls, cost.settings_writes, cost.bulk_writes, cost.worker_versions, cost.rate_limited,
         store_wait) = (after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3],
                        after[4] - before[4], after[5] - before[5])
        cost.waited_s += store_wait
        return cost

    # ---- apply ---------------------------------------------------------------------------------
    def apply(self, name: str, run: ProgramRun) -> Cost:
        return self.measure(name, lambda cost: self._apply(cost, run))

    def _apply(self, cost: Cost, run: ProgramRun) -> None:
        new = {r.urn: r for r in run.resources}
        store_new = [r for r in new.values() if r.type == STORE_SECRET_TYPE]
        bindings = [r for r in new.values() if r.type == BINDINGS_TYPE]
        client = make_client("bench", self.fake.base_url)
        for res in store_new:  # creates and updates first: bindings depend on them
            inputs = reveal(res.inputs)
            old = self.inputs.get(res.urn)
            if old is None:
                result = client.secrets_store.stores.secrets.create(
                    self.store_id, account_id=self.account,
                    body=[{"name": inputs["name"], "value": inputs["value"], "scopes": inputs["scopes"],
                           "comment": inputs.get("comment") or ""}])
                self.store_ids[res.urn] = next(iter(result)).id
                cost.created += 1
                cost.store_created += 1
            elif old != inputs:
                client.secrets_store.stores.secrets.edit(
                    self.store_ids[res.urn], store_id=self.store_id, account_id=self.account,
                    value=inputs["value"], scopes=inputs["scopes"], comment=inputs.get("comment") or "")
                cost.updated += 1
                cost.store_updated += 1
                cost.updated_names.append(res.name)
            self.inputs[res.urn] = inputs

        def up(res: Any) -> tuple[str, str, dict[str, Any]]:
            inputs = reveal(res.inputs)
            props = {k: inputs[k] for k in ("account_id", "script_name", "worker", "stack", "bindings", "values")}
            state, action = self.host.up(res.name, self.state.get(res.urn), props)
            return res.urn, action, state

        with ThreadPoolExecutor(self.parallel) as pool:
            for urn, action, state in pool.map(up, bindings):
                self.state[urn] = state
                self.inputs[urn] = reveal(new[urn].inputs)
                cost.created += action == "create"
                cost.updated += action == "update"
                if action == "update":
                    cost.updated_names.append(urn.rsplit("::", 1)[1])
                if action != "same":
                    wait = float((state.get("last_apply") or {}).get("rate_limit_wait_s") or 0)
                    cost.waited_s += wait
                    cost.longest_wait_s = max(cost.longest_wait_s, wait)
        gone = [u for u in self.inputs if u not in new]
        for urn in [u for u in gone if u in self.state]:  # bindings first, then what they used
            state = self.state.pop(urn)
            self.host.delete(urn.rsplit("::", 1)[1], state["_id"], {k: v for k, v in state.items() if k != "_id"})
            self.inputs.pop(urn)
            cost.deleted += 1
        for urn in [u for u in gone if u in self.inputs]:
            if urn in self.store_ids:
                client.secrets_store.stores.secrets.delete(self.store_ids.pop(urn), store_id=self.store_id,
                                                           account_id=self.account)
                cost.store_deleted += 1
            self.inputs.pop(urn)
            cost.deleted += 1

    def refresh(self, name: str = "refresh") -> Cost:
        def work(cost: Cost) -> None:
            client = make_client("bench", self.fake.base_url)
            for secret_id in self.store_ids.values():
                client.secrets_store.stores.secrets.get(secret_id, store_id=self.store_id, account_id=self.account)

            def read(item: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
                urn, state = item
                _, outs = self.host.read(urn.rsplit("::", 1)[1], state["_id"],
                                         {k: v for k, v in state.items() if k != "_id"})
                outs.pop("__provider", None)
                return urn, {**outs, "_id": state["_id"]}

            with ThreadPoolExecutor(self.parallel) as pool:
                for urn, state in pool.map(read, list(self.state.items())):
                    self.state[urn] = state

        return self.measure(name, work)

    def refresh_only(self, scripts: list[str]) -> None:
        """`pulumi refresh --target` of these scripts' bindings resources: the provider's Read of each."""
        for urn, state in list(self.state.items()):
            if urn.rsplit("::", 1)[1] in scripts:
                _, outs = self.host.read(urn.rsplit("::", 1)[1], state["_id"],
                                         {k: v for k, v in state.items() if k != "_id"})
                outs.pop("__provider", None)
                self.state[urn] = {**outs, "_id": state["_id"]}
