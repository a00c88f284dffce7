"""Where Pulumi state written before the package was grouped by role finds the provider.

The dynamic-provider host unpickles each resource's provider by reference (module and class
name), so state recorded with `stacks.worker_bindings.WorkerSecretBindingsProvider` must keep
resolving after the move to `stacks.resources.worker_bindings`.
"""

from .resources.worker_bindings import WorkerSecretBindingsProvider

__all__ = ["WorkerSecretBindingsProvider"]
