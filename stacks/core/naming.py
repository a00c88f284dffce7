"""Every naming rule in one place: what a name may be (secret, binding, Worker key, script,
stack), which names are too alike to tell apart, and the names derived per stack (script names,
store secret names, fallback copies, Pulumi URNs).

Every rule is a full match over ASCII: `re.match` with a `$` anchor lets a trailing newline
through (`"SLACK_TOKEN\\n"`), and a rule with `\\w` would let Cyrillic look-alikes in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manifest import WorkerSpec

DEFAULT_SECRET_NAME_TEMPLATE = "{name}"

# Secrets Store refuses names with spaces; secrets-plane keeps to a portable subset.
SECRET_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}", re.ASCII)
BINDING_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)
# ECMAScript reserved words: not usable as a binding read as `env.NAME` or destructured.
JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends false "
    "finally for function if import in instanceof new null return super switch this throw true try "
    "typeof var void while with yield let static implements interface package private protected public "
    "await".split()
)
SCRIPT_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?", re.ASCII)
STACK_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)
# A Worker's key in the manifest: it lands in messages, file names, TypeScript names and comments.
WORKER_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", re.ASCII)
WORKER_KEY_RULE = "1-63 ASCII letters, digits, '_' or '-', starting with a letter or digit"
# AI Gateway BYOK: a gateway's id, a provider's slug (openai, google-ai-studio) and a key's alias.
# Each lands in the store secret name the gateway looks the key up by, so each keeps to the
# store's characters; the gateway id and slug to the lowercase forms Cloudflare shows them in.
GATEWAY_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
GATEWAY_ID_RULE = "1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit"
PROVIDER_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)
PROVIDER_SLUG_RULE = "a provider slug as AI Gateway spells it: lowercase letters, digits and '-' (e.g. openai, " \
                     "google-ai-studio)"
BYOK_ALIAS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
BYOK_ALIAS_RULE = "1-64 letters, digits, '_' or '-', starting with a letter or digit"
DEFAULT_BYOK_ALIAS = "default"


def is_secret_name(name: str) -> bool:
    return SECRET_NAME_RE.fullmatch(name) is not None


def is_binding_name(name: str) -> bool:
    return BINDING_NAME_RE.fullmatch(name) is not None and name not in JS_RESERVED


def is_script_name(name: str) -> bool:
    return SCRIPT_NAME_RE.fullmatch(name) is not None


def is_stack_name(name: str) -> bool:
    return STACK_NAME_RE.fullmatch(name) is not None


def is_worker_key(name: str) -> bool:
    return WORKER_KEY_RE.fullmatch(name) is not None


def is_gateway_id(name: str) -> bool:
    return GATEWAY_ID_RE.fullmatch(name) is not None


def is_provider_slug(name: str) -> bool:
    return PROVIDER_SLUG_RE.fullmatch(name) is not None


def is_byok_alias(name: str) -> bool:
    return BYOK_ALIAS_RE.fullmatch(name) is not None


def non_ascii(name: str) -> str:
    """The first character of `name` outside printable ASCII, as U+XXXX (a look-alike such as a
    Cyrillic 'а' in 'аpi'), or "" when there is none."""
    found = next((ch for ch in name if not " " <= ch <= "~"), None)
    return f"U+{ord(found):04X}" if found is not None else ""


# Characters a reader takes for one another in a name: case, '-' and '_', O and 0, l, I and 1.
_ALIKE = str.maketrans({"-": "_", "0": "o", "1": "l", "i": "l"})


def skeleton(name: str) -> str:
    """What a name looks like to a reader: two names with one skeleton are twins."""
    return name.lower().translate(_ALIKE)


def twins(names: Iterable[str]) -> list[tuple[str, str]]:
    """(first, later) for each name that a reader cannot tell from an earlier one."""
    seen: dict[str, str] = {}
    out = []
    for name in names:
        key = skeleton(name)
        if key in seen and seen[key] != name:
            out.append((seen[key], name))
        else:
            seen.setdefault(key, name)
    return out

# The Pulumi project and the type tokens of what the program declares: URNs are built from them.
PROJECT = "secrets-plane"
COMPONENT_NAME = "secrets-plane"
COMPONENT_TYPE = "secrets-plane:index:SecretsPlane"
STORE_TYPE = "cloudflare:index/secretsStore:SecretsStore"
STORE_SECRET_TYPE = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"
BINDINGS_TYPE = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"
BYOK_TYPE = "pulumi-python:dynamic/secrets-plane:GatewayProviderKey"


def script_name(worker: WorkerSpec, stack: str) -> str:
    """The Worker's script name in `stack`: a `{stack}` template or an explicit per-stack name."""
    if isinstance(worker.script_name, str):
        return worker.script_name.replace("{stack}", stack)
    return worker.script_name[stack]


def store_secret_name(template: str, secret: str) -> str:
    """The name a manifest secret gets in the account's store, e.g. `{name}_STAGING`."""
    return template.replace("{name}", secret)


def byok_secret_name(gateway_id: str, provider_slug: str, alias: str) -> str:
    """The store secret AI Gateway looks a BYOK key up by: Cloudflare's BYOK page says the gateway
    finds it by this name alone (the `secret_id` a config holds is not used at run time), e.g.
    `my-gateway_anthropic_default`. The plane's own naming rule (`secretName`) does not apply."""
    return f"{gateway_id}_{provider_slug}_{alias}"


def byok_resource(gateway_id: str, provider_slug: str, alias: str) -> str:
    """The Pulumi name of a BYOK key's resource: named by its store secret, unique in the account's store."""
    return resource_name("byok", byok_secret_name(gateway_id, provider_slug, alias))


FALLBACK_SUFFIX = "_FALLBACK"


def fallback_binding_name(binding: str) -> str:
    """The secret_text copy beside a store binding, read by the accessor when the store fails."""
    return binding + FALLBACK_SUFFIX


PREVIOUS_SUFFIX = "_PREVIOUS"


def previous_binding_name(binding: str) -> str:
    """The binding that holds a rotated secret's previous value during its overlap window (equal to
    the current value outside one), beside the binding of the same backend."""
    return binding + PREVIOUS_SUFFIX


def previous_store_secret_name(store_secret: str) -> str:
    """The store secret holding the previous value: `<store secret name>_PREVIOUS`."""
    return store_secret + PREVIOUS_SUFFIX


def resource_name(*parts: str) -> str:
    """A Pulumi logical name; stable across backends so URNs survive the flip."""
    return "-".join(parts)


def store_secret_resource(secret: str, previous: bool = False) -> str:
    # '.' is in no secret name, so `secret-X.previous` is never the resource of another secret.
    return resource_name("secret", secret) + (".previous" if previous else "")


def bindings_resource(script: str) -> str:
    return resource_name(script)


def urn(stack: str, type_token: str, name: str) -> str:
    """The URN of a resource the component declares (`pulumi up --target`, `pulumi import`).
    `stack` may be `org/project/stack`: URNs carry the stack's own name."""
    short = stack.rsplit("/", 1)[-1]
    if type_token == COMPONENT_TYPE:
        return f"urn:pulumi:{short}::{PROJECT}::{COMPONENT_TYPE}::{name}"
    return f"urn:pulumi:{short}::{PROJECT}::{COMPONENT_TYPE}${type_token}::{name}"
