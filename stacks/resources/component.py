"""SecretsPlane: the Pulumi component that realizes a DesiredState."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from ..core.desired_state import DesiredState, WorkerState
from ..core.naming import resource_name
from ..core.stack_config import SecretValues
from .worker_bindings import STORE, TEXT, WorkerSecretBindings

COMPONENT_TYPE = "secrets-plane:index:SecretsPlane"


def _secret(values: SecretValues, name: str) -> pulumi.Output[str]:
    value = values.get(name)
    return pulumi.Output.secret(value if isinstance(value, str) else repr(value))


class SecretsPlane(pulumi.ComponentResource):
    """One stack's credential plane: the store and its secrets (store backend) and one
    WorkerSecretBindings per Worker (both backends, same URN, so the flip is an in-place update)."""

    store_id: pulumi.Output[str] | None
    bindings: dict[str, WorkerSecretBindings]

    def __init__(self, name: str, desired: DesiredState, values: SecretValues,
                 opts: pulumi.ResourceOptions | None = None, gate: pulumi.Output[bool] | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        # Every child takes the account id through the promotion gate (when there is one), so a
        # refused promotion registers nothing.
        self.account_id: pulumi.Input[str] = (
            gate.apply(lambda _: desired.account_id) if gate is not None else desired.account_id)
        self.store_id = None
        store_secrets: dict[str, cloudflare.SecretsStoreSecret] = {}
        if desired.backend == "store":
            self.store_id = self._store(desired)
            for spec in desired.store_secrets:
                store_secrets[spec.secret] = cloudflare.SecretsStoreSecret(
                    resource_name("secret", spec.secret),
                    account_id=self.account_id,
                    store_id=self.store_id,
                    name=spec.store_secret_name,
                    value=_secret(values, spec.secret),
                    scopes=list(spec.scopes),
                    comment=spec.comment,
                    opts=pulumi.ResourceOptions(parent=self),
                )
        self.bindings = {
            worker.script_name: self._worker_bindings(desired, worker, values, store_secrets)
            for worker in desired.workers
        }
        outputs: dict[str, Any] = {
            "backend": desired.backend,
            "manifest_digest": desired.manifest_digest,
            "binding_matrix": desired.binding_matrix(),
        }
        if self.store_id is not None:
            outputs["store_id"] = self.store_id
        self.register_outputs(outputs)

    def _store(self, desired: DesiredState) -> pulumi.Output[str]:
        store = desired.store
        assert store is not None
        if store.mode == "adopt":
            # Read-only lookup: fails at preview if the store is not there, and is never deleted.
            # A lookup registers nothing, so it need not wait on the promotion gate; taking the plain
            # account id keeps it (and the store id in every binding) known at preview.
            found = cloudflare.get_secrets_store_output(
                account_id=desired.account_id, store_id=store.id,
                opts=pulumi.InvokeOptions(parent=self))
            return found.apply(lambda s: s.store_id or s.id)
        created = cloudflare.SecretsStore(
            resource_name("store"),
            account_id=self.account_id,
            name=store.name,
            # One store per account, shared by every stack on it: never let a destroy take it.
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        return created.id

    def _worker_bindings(self, desired: DesiredState, worker: WorkerState, values: SecretValues,
                         store_secrets: dict[str, cloudflare.SecretsStoreSecret]) -> WorkerSecretBindings:
        specs: list[dict[str, Any]] = []
        worker_values: dict[str, pulumi.Output[str]] = {}
        depends: list[pulumi.Resource] = []
        for binding in worker.bindings:
            if binding.kind == "secrets_store_secret":
                specs.append({"name": binding.name, "type": STORE, "secret": binding.secret,
                              "store_id": self.store_id, "secret_name": binding.store_secret_name})
                depends.append(store_secrets[binding.secret])
            else:
                specs.append({"name": binding.name, "type": TEXT, "secret": binding.secret})
                worker_values[binding.name] = _secret(values, binding.secret)
        return WorkerSecretBindings(
            # Named by script, not backend: the flip keeps the URN and is an in-place update.
            resource_name(worker.script_name),
            account_id=self.account_id,
            script_name=worker.script_name,
            worker=worker.worker,
            bindings=specs,
            values=worker_values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
