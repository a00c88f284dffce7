"""SecretsPlane: the Pulumi component that realizes a DesiredState."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ..core.desired_state import STORE, ByokKey, DesiredState, Slot, StoreSecret, WorkerState
from ..core.naming import COMPONENT_TYPE, bindings_resource, byok_resource, resource_name, store_secret_resource
from ..core.stack_config import SecretValues
from .gateway_keys import GatewayProviderKey
from .worker_bindings import WorkerSecretBindings

ADOPT_HINT_HOOK = "secrets-plane-adopt-store-hint"


def _plain(values: SecretValues, name: str, slot: Slot = "current") -> str:
    value = values.previous(name) if slot == "previous" else values.get(name)
    return value if isinstance(value, str) else repr(value)


def _secret(values: SecretValues, name: str, slot: Slot = "current") -> pulumi.Output[str]:
    return pulumi.Output.secret(_plain(values, name, slot))


def adopt_store_hint(stack: str, errors: Sequence[str], operation: str, name: str) -> str | None:
    """What to tell the user when creating a store secret fails because its name is taken (the
    provider creates, it does not adopt), or None for any other failure."""
    text = " ".join(errors).lower()
    if operation != "create" or not ("already_exists" in text or "already exists" in text):
        return None
    return (f"store secret '{name}' already exists in the account's store (created by hand or by another tool), and "
            f"Pulumi creates rather than adopts: run `python -m stacks adopt-store --stack {stack}`, then the "
            "`pulumi import --file ...` command it prints, then `pulumi up` again")


def _adopt_hint_hook(stack: str) -> pulumi.ErrorHook:
    def on_error(args: pulumi.ErrorHookArgs) -> bool:
        hint = adopt_store_hint(stack, args.errors, args.failed_operation, str((args.new_inputs or {}).get("name")))
        if hint:
            pulumi.log.error(hint)
        return False  # never retry: the name stays taken until someone acts

    return pulumi.ErrorHook(ADOPT_HINT_HOOK, on_error)


def _external_check(names: list[str], store_id: str) -> Any:
    def check(found: Any) -> str:
        present = {r.name for r in (found.results or [])}
        missing = sorted(set(names) - present)
        if missing:
            raise pulumi.RunError(
                f"external store secret(s) {', '.join(missing)} not found in store {store_id}: the plane never "
                "creates an external secret; create it (wrangler secrets-store secret create) or drop "
                "`external: true` in secrets_manifest.yaml and set its value")
        return store_id
    return check


def byok_inputs(desired: DesiredState, key: ByokKey) -> dict[str, Any]:
    """What a BYOK key's resource is declared with, besides the account, the store and the value:
    plain data from the desired state alone (a test holds it equal across backends)."""
    managed = [f"{k.provider_slug}/{k.alias}" for k in desired.byok_keys if k.gateway_id == key.gateway_id]
    return {"stack": desired.stack, "secret": key.secret, "gateway_id": key.gateway_id,
            "provider_slug": key.provider_slug, "alias": key.alias, "default_config": key.default_config,
            "rate_limit": key.rate_limit, "rate_limit_period": key.rate_limit_period,
            "secret_name": key.store_secret_name, "comment": key.comment, "managed": managed}


class SecretsPlane(pulumi.ComponentResource):
    """One stack's credential plane: the store and its secrets (when anything is on the store) and
    one WorkerSecretBindings per Worker (same URN whatever its bindings' backends, so the flip is
    an in-place update)."""

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
        self.byok: dict[str, GatewayProviderKey] = {}
        store_secrets: dict[tuple[str, Slot], cloudflare.SecretsStoreSecret] = {}
        external_store_id: pulumi.Output[str] | None = None
        if desired.store is not None:
            self.store_id = self._store(desired)
            hooks = None
            if monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ERROR_HOOKS):
                hooks = pulumi.ResourceHookBinding(on_error=[_adopt_hint_hook(desired.stack)])
            for spec in desired.store_secrets:
                if not spec.external:
                    store_secrets[(spec.secret, spec.slot)] = self._store_secret(spec, values, hooks)
            external_store_id = self._external_lookup(desired)
            self.byok = {byok_resource(k.gateway_id, k.provider_slug, k.alias): self._byok_key(desired, k, values)
                         for k in desired.byok_keys}
        self.bindings = {
            worker.script_name: self._worker_bindings(desired, worker, values, store_secrets, external_store_id)
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

    def _store_secret(self, spec: StoreSecret, values: SecretValues,
                      hooks: pulumi.ResourceHookBinding | None) -> cloudflare.SecretsStoreSecret:
        assert self.store_id is not None
        return cloudflare.SecretsStoreSecret(
            store_secret_resource(spec.secret, previous=spec.slot == "previous"),
            account_id=self.account_id,
            store_id=self.store_id,
            name=spec.store_secret_name,
            value=_secret(values, spec.secret, spec.slot),
            scopes=list(spec.scopes),
            comment=spec.comment,
            opts=pulumi.ResourceOptions(parent=self, hooks=hooks),
        )

    def _byok_key(self, desired: DesiredState, key: ByokKey, values: SecretValues) -> GatewayProviderKey:
        """A BYOK key: its own store secret, named as the gateway looks it up, beside the binding's
        store secret (whose name stays), and the provider config. The same on every backend, so a
        flip or a phased step leaves it as it is."""
        assert self.store_id is not None
        return GatewayProviderKey(
            byok_resource(key.gateway_id, key.provider_slug, key.alias),
            **byok_inputs(desired, key), account_id=self.account_id, store_id=self.store_id,
            value=_plain(values, key.secret), opts=pulumi.ResourceOptions(parent=self))

    def _external_lookup(self, desired: DesiredState) -> pulumi.Output[str] | None:
        """External store secrets are looked up by name (read-only), never created: the lookup fails
        the preview naming the ones missing, and every binding to them waits on it."""
        names = [s.store_secret_name for s in desired.store_secrets if s.external]
        if not names or self.store_id is None:
            return None
        store_id = self.store_id
        found = cloudflare.get_secrets_store_secrets_output(
            account_id=desired.account_id, store_id=store_id, opts=pulumi.InvokeOutputOptions(parent=self))
        return pulumi.Output.all(store_id, found).apply(lambda args: _external_check(names, args[0])(args[1]))

    def _worker_bindings(self, desired: DesiredState, worker: WorkerState, values: SecretValues,
                         store_secrets: dict[tuple[str, Slot], cloudflare.SecretsStoreSecret],
                         external_store_id: pulumi.Output[str] | None) -> WorkerSecretBindings:
        specs: list[dict[str, Any]] = []
        # Plain strings here, marked secret once as a whole by WorkerSecretBindings: one Output per
        # Worker, not one per value (thousands of Outputs cost seconds at 200 Workers).
        worker_values: dict[str, str] = {}
        depends: list[pulumi.Resource] = []
        # Store bindings take the store id, or the id the lookup of external secrets gives (so they
        # wait on it): the list is completed once those are known, as ONE Output of plain data,
        # not an Output in every binding (tens of thousands of them at 500 Workers).
        waits: dict[int, str] = {}
        for binding in worker.bindings:
            spec: dict[str, Any] = {"name": binding.name, "type": binding.kind, "secret": binding.secret}
            # Only when set, so a manifest without overrides declares exactly what it did before.
            if binding.role != "primary":
                spec["role"] = binding.role
            if binding.external:
                spec["external"] = True
            if binding.kind == STORE:
                owned = store_secrets.get((binding.secret, binding.slot))
                if owned is not None:
                    depends.append(owned)
                waits[len(specs)] = "external" if owned is None and external_store_id is not None else "store"
                spec.update(store_id=None, secret_name=binding.store_secret_name)
            elif binding.needs_value:
                worker_values[binding.name] = _plain(values, binding.secret, binding.slot)
            specs.append(spec)
        bindings: pulumi.Input[list[dict[str, Any]]] = specs
        if waits:
            assert self.store_id is not None

            def complete(ids: list[str]) -> list[dict[str, Any]]:
                by_kind = {"store": ids[0], "external": ids[1] if len(ids) > 1 else ids[0]}
                return [{**spec, "store_id": by_kind[waits[i]]} if i in waits else spec for i, spec in enumerate(specs)]

            sources = [self.store_id] + ([external_store_id] if "external" in waits.values() and external_store_id
                                         is not None else [])
            bindings = pulumi.Output.all(*sources).apply(complete)
        return WorkerSecretBindings(
            # Named by script, not backend: the flip keeps the URN and is an in-place update.
            bindings_resource(worker.script_name),
            account_id=self.account_id,
            script_name=worker.script_name,
            worker=worker.worker,
            stack=desired.stack,
            bindings=bindings,
            values=worker_values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
