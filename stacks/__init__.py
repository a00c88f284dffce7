"""secrets-plane: Cloudflare Worker credentials from one manifest.

Nothing here runs at import time: the dynamic-provider host imports this package to unpickle
the WorkerSecretBindings provider.
"""
