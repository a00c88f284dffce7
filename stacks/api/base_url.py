"""Where the API token goes: CLOUDFLARE_BASE_URL checked before any client is made.

The SDK sends the token to whatever `CLOUDFLARE_BASE_URL` names, over plain http if it says so.
A variable set by mistake (or by a job that can set the environment) would hand the account's
token to someone else. So: https, to any host (a proxy of one's own), said aloud when it is not
Cloudflare's; plain http only to a loopback address (the tests' fake API on 127.0.0.1); anything
else refused, naming the variable, unless SECRETS_PLANE_ALLOW_INSECURE_BASE_URL=1 says the
sender means it, and then it says where the token goes. Free of the SDK, so the program can check
it before the Cloudflare provider reads the same variable.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import urllib.parse
from typing import TextIO

from ..core.errors import CloudflareOperationError
from ..core.text import one_line

VARIABLE = "CLOUDFLARE_BASE_URL"
OPT_IN = "SECRETS_PLANE_ALLOW_INSECURE_BASE_URL"
CLOUDFLARE_HOST = "api.cloudflare.com"
_told: set[str] = set()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (even `localhost`) is whatever a resolver says it is


def checked_base_url(url: str | None, notes: TextIO | None = None) -> str | None:
    """`url` (the variable's value when None is given by the caller's caller) when the token may
    go there; raises otherwise. A note on `notes` (stderr) says where the token goes when that is
    not Cloudflare's own API."""
    if not url:
        return None
    shown = one_line(url)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a malformed port raises here
    except ValueError:
        raise CloudflareOperationError(f"{VARIABLE} is not a URL ({shown}): unset it to reach Cloudflare's API, or "
                                       f"set it to https://<host>/client/v4") from None
    if parts.username or parts.password:
        raise CloudflareOperationError(f"{VARIABLE} carries a user name or password: refused (it would be sent with "
                                       "the token and logged); unset it, or name the host alone")
    if not host or parts.scheme not in ("https", "http"):
        raise CloudflareOperationError(f"{VARIABLE} must be an https URL (it is {shown}): unset it to reach "
                                       f"Cloudflare's API, or set https://<host>/client/v4")
    where = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    out = notes or sys.stderr
    if parts.scheme == "http" and not _loopback(host):
        if os.environ.get(OPT_IN) != "1":
            raise CloudflareOperationError(
                f"{VARIABLE} is plain http to {one_line(where)}, which is not a loopback address: the API token would "
                f"cross the network unencrypted, refused. Use https, or set {OPT_IN}=1 if you mean it")
        _note(out, f"note: {VARIABLE} sends the API token over plain http to {one_line(where)} ({OPT_IN}=1)")
    elif parts.scheme == "https" and host != CLOUDFLARE_HOST:
        _note(out, f"note: {VARIABLE} sends the API token to {one_line(where)}, not {CLOUDFLARE_HOST}")
    return url


def _note(out: TextIO, text: str) -> None:
    if text not in _told:  # once per process: a command makes a client per Worker
        _told.add(text)
        print(text, file=out)


def base_url_from_environment() -> str | None:
    return checked_base_url(os.environ.get(VARIABLE))


def reaches_cloudflare() -> bool:
    """Whether the API calls go to Cloudflare's own API (no override, or one naming its host)."""
    url = os.environ.get(VARIABLE)
    if not url:
        return True
    try:
        return urllib.parse.urlsplit(url).hostname == CLOUDFLARE_HOST
    except ValueError:
        return False  # refused by checked_base_url before any call
