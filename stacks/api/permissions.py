"""The API token permissions each command needs, in one place: error messages, the docs and the
workflow's two tokens all say what this says (a docs test holds them to it). Names as Cloudflare's
token editor and pulumi-cloudflare's docs spell them."""

from __future__ import annotations

WORKERS_READ = "Workers Scripts Read"
WORKERS_WRITE = "Workers Scripts Write"
STORE_READ = "Secrets Store Read"
STORE_WRITE = "Secrets Store Write"
# A stack with AI Gateway BYOK keys also needs these (developers.cloudflare.com, AI Gateway "Manage
# gateways": "AI Gateway - Read", "AI Gateway - Edit"): the apply writes provider configs, the
# live checks read gateways and their configs.
AI_GATEWAY_READ = "AI Gateway - Read"
AI_GATEWAY_EDIT = "AI Gateway - Edit"
BYOK_APPLY = (AI_GATEWAY_EDIT, STORE_WRITE)
BYOK_READ = (AI_GATEWAY_READ,)

# What `pulumi up` (the provider and pulumi-cloudflare) needs: it writes.
APPLY = (WORKERS_WRITE, STORE_WRITE)
# What every live check needs: it only reads (a read-only token is enough, and the workflow gives
# them one).
READ_ONLY = (WORKERS_READ, STORE_READ)

COMMANDS: dict[str, tuple[str, ...]] = {
    "pulumi up": APPLY,
    "pulumi preview": READ_ONLY,
    "rotate": APPLY,  # it runs `pulumi up`
    "retire": APPLY,  # it runs `pulumi up`
    "canary": READ_ONLY,
    "audit": READ_ONLY,
    "import": (WORKERS_READ,),
    "adopt-store": (STORE_READ,),
    "preflight": READ_ONLY,
    "scope": READ_ONLY,  # the Workers listing, and the refresh and preview it runs
}


def phrase(permissions: tuple[str, ...]) -> str:
    """`'A' and 'B'`, as messages say it."""
    quoted = [f"'{p}'" for p in permissions]
    return " and ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
