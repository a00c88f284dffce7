"""The Cloudflare edge: an SDK client from the environment, and errors people can act on.

The token is read from CLOUDFLARE_API_TOKEN at operation time and never stored; CLOUDFLARE_BASE_URL
is honoured once checked (base_url.py: https, or http to a loopback address such as the tests'
fake API on 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import cloudflare
from cloudflare import Cloudflare, DefaultHttpxClient

from ..core.errors import CloudflareOperationError
from ..core.limits import API_REQUESTS_PER_WINDOW, API_WINDOW_SECONDS
from ..core.text import scrub
from .base_url import base_url_from_environment, checked_base_url
from .permissions import APPLY, READ_ONLY, phrase
from .ratelimit import PACER, PacedTransport, parse_ratelimit

__all__ = ["CloudflareOperationError", "describe_failure", "error_codes", "make_client"]

MAX_RETRIES = 4
DEFAULT_TIMEOUT_S = 30.0


class _RedactRequestOptions(logging.Filter):
    """The SDK logs every request's options at debug level (CLOUDFLARE_LOG=debug), body included:
    a secret_text value would land in the log. Keep the line, drop its content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Request options"):
            record.msg = "Request options: [not logged: may carry secret values]"
            record.args = ()
        return True


_FILTER = _RedactRequestOptions()


def make_client(token: str | None = None, base_url: str | None = None) -> Cloudflare:
    """A client from the environment (CLOUDFLARE_API_TOKEN, CLOUDFLARE_BASE_URL), or as given."""
    sdk_logger = logging.getLogger("cloudflare._base_client")
    if _FILTER not in sdk_logger.filters:
        sdk_logger.addFilter(_FILTER)
    token = token or os.environ.get("CLOUDFLARE_API_TOKEN")
    if not token:
        raise CloudflareOperationError(
            f"CLOUDFLARE_API_TOKEN is not set: export an API token with {phrase(APPLY)} on the account to apply, "
            f"or {phrase(READ_ONLY)} for the live checks (see SECURITY.md)"
        )
    timeout = float(os.environ.get("SECRETS_PLANE_HTTP_TIMEOUT", DEFAULT_TIMEOUT_S))
    return Cloudflare(
        api_token=token,
        # Passed explicitly, so the SDK never reads the variable unchecked.
        base_url=checked_base_url(base_url) if base_url else base_url_from_environment(),
        max_retries=int(os.environ.get("SECRETS_PLANE_MAX_RETRIES", MAX_RETRIES)),
        timeout=timeout,
        # Every call goes through the process's pacer (ratelimit.py).
        http_client=DefaultHttpxClient(transport=PacedTransport()),
    )


def error_codes(exc: BaseException) -> list[int]:
    """Cloudflare's error codes in a failed response's body (`errors[].code`)."""
    body = getattr(exc, "body", None)
    codes: list[int] = []
    if isinstance(body, dict):
        for err in body.get("errors") or []:
            if isinstance(err, dict) and isinstance(err.get("code"), int):
                codes.append(err["code"])
    return codes


# Codes with a meaning of their own (sources beside each use).
WORKER_NOT_FOUND = 10007               # "This Worker does not exist on your account." (wrangler: WORKER_NOT_FOUND_ERR_CODE)
VERSION_NOT_DEPLOYED_SETTINGS = 10214  # settings PATCH while the latest version is not deployed at 100%
VERSION_NOT_DEPLOYED_SECRETS = 10215   # secrets PUT/bulk in the same state (wrangler: VERSION_NOT_DEPLOYED_ERR_CODE)
BINDING_NAME_IN_USE = 10053            # "Binding name 'X' already in use." (cloudflare/workers-sdk issue 12812)
STORE_BINDING_NOT_FOUND = 10182        # store binding to a missing store/secret, or a pending one
ROLLBACK_SECRETS_CHANGED = 10220      # deploying older versions whose secrets changed, without `force` (wrangler: CANNOT_ROLLBACK_WITH_MODIFIED_SECERT_CODE)
INVALID_INHERIT = 10057                # "inherit binding 'X' is invalid" (wrangler: INVALID_INHERIT_BINDING_CODE)


def worker_gone(exc: BaseException) -> bool:
    """A 404 that says the Worker itself does not exist, as opposed to something inside it (a
    binding, a version) being absent: only that one means "nothing left to do here"."""
    return isinstance(exc, cloudflare.NotFoundError) and WORKER_NOT_FOUND in error_codes(exc)


def _which_limit(exc: cloudflare.RateLimitError) -> tuple[str, str]:
    """(what refused the call, what to do), from the 429's own headers and the endpoint called."""
    limits = parse_ratelimit(exc.response.headers.get("ratelimit", ""))
    if any(item.remaining <= 0 for item in limits):
        return (f"the account's API window is spent (Cloudflare allows {API_REQUESTS_PER_WINDOW:,} requests per "
                f"{API_WINDOW_SECONDS // 60} minutes per user, shared with the dashboard and every token, and refuses "
                "every call for five minutes once it is over)", "wait five minutes and re-run")
    if exc.response.request.url.path.endswith("/secrets-bulk"):
        return ("too many writes to this script at once (the secrets-bulk endpoint limits concurrent writes to one "
                "Worker; the account's window is not spent): another job or person is writing the same Worker",
                "re-run once that write is done")
    return "Cloudflare's rate limit", "wait a few minutes and re-run"


ECHOED = "[the message quoted part of the request and is not shown]"


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """A body can echo the request it refuses, with each value raw, JSON-escaped (every PEM key,
    every service-account JSON has quotes, backslashes or newlines) or URL-encoded: every form is
    replaced; a message still holding a run of a value (cut short by the API, or in some other
    encoding) is dropped whole."""
    text, fragment = scrub(text, secrets)
    return ECHOED if fragment else text


def _api_messages(exc: cloudflare.APIStatusError, secrets: Iterable[str]) -> str:
    """Cloudflare's own error codes and messages, scrubbed: a body can echo request fields.
    Scrub before truncating, so no fragment of a value survives a cut."""
    body = exc.body
    secrets = list(secrets)
    parts: list[str] = []
    if isinstance(body, dict):
        for err in body.get("errors") or []:
            if isinstance(err, dict):
                code = err.get("code")
                message = " ".join(_scrub(str(err.get("message", "")), secrets).split())
                if len(message) > 200:
                    message = message[:200] + "..."
                parts.append(f"{code}: {message}" if code is not None else message)
    return "; ".join(parts)


def describe_failure(exc: Exception, action: str, subject: str, not_found_hint: str,
                     secrets: Iterable[str] = (), landed: str = "",
                     permissions: tuple[str, ...] = APPLY) -> CloudflareOperationError:
    """Translate an SDK exception into an actionable error naming the subject and the action.
    `landed`: what this operation had already written when it failed (for a write that takes
    several calls); a re-run converges from there."""
    secrets = list(secrets)
    prefix = f"{action} {subject} failed"
    if isinstance(exc, cloudflare.NotFoundError):
        return CloudflareOperationError(f"{prefix}: not found (404). {not_found_hint}")
    if isinstance(exc, (cloudflare.PermissionDeniedError, cloudflare.AuthenticationError)):
        status = exc.status_code
        return CloudflareOperationError(
            f"{prefix}: the API token was refused ({status}). Give the token {phrase(permissions)} on this "
            "account (SECURITY.md lists the exact permissions), then re-run."
        )
    if isinstance(exc, cloudflare.RateLimitError):
        which, todo = _which_limit(exc)
        return CloudflareOperationError(
            f"{prefix}: still rate-limited (429) after {MAX_RETRIES} retries and {PACER.total.waited_s:.0f} s of "
            f"pacing by this process: {which}. Before it: {landed or 'nothing was written to this Worker'}. "
            f"{todo[0].upper() + todo[1:]}: a re-run converges from there."
        )
    codes = error_codes(exc)
    if STORE_BINDING_NOT_FOUND in codes:
        return CloudflareOperationError(
            f"{prefix}: a Secrets Store binding names a store or secret that does not exist or is still pending "
            f"({STORE_BINDING_NOT_FOUND}). Check secrets-plane:store and secretName in the stack file and that the "
            "store secret exists (python -m stacks canary); a secret created a moment ago may still be pending: re-run."
        )
    if BINDING_NAME_IN_USE in codes:
        return CloudflareOperationError(
            f"{prefix}: a binding name the manifest manages is already used on the Worker by a binding of another "
            f"kind ({BINDING_NAME_IN_USE}). Rename it under `bindings:` in secrets_manifest.yaml, or remove the "
            "other binding from the Worker's wrangler config."
        )
    if isinstance(exc, cloudflare.ConflictError):
        return CloudflareOperationError(
            f"{prefix}: conflict (409), another change to the Worker landed at the same time. Re-run; "
            "unmanaged bindings are re-read on every run."
        )
    if isinstance(exc, cloudflare.InternalServerError):
        return CloudflareOperationError(
            f"{prefix}: Cloudflare answered {exc.status_code} after {MAX_RETRIES} retries. Re-run later; "
            "the Worker keeps its previous version until a write succeeds."
        )
    if isinstance(exc, cloudflare.APITimeoutError):
        return CloudflareOperationError(
            f"{prefix}: no answer from the Cloudflare API in time. Re-run; a re-run converges whether or "
            "not the last write landed."
        )
    if isinstance(exc, cloudflare.APIConnectionError):
        return CloudflareOperationError(
            f"{prefix}: could not reach the Cloudflare API (connection failed). Check the network and "
            "CLOUDFLARE_BASE_URL, then re-run."
        )
    if isinstance(exc, cloudflare.APIStatusError):
        detail = _api_messages(exc, secrets)
        return CloudflareOperationError(f"{prefix}: Cloudflare answered {exc.status_code}" +
                                        (f" ({detail})" if detail else "") +
                                        ". The Worker was not changed; fix the cause and re-run.")
    return CloudflareOperationError(f"{prefix}: {type(exc).__name__}")
