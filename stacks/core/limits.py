"""Every Cloudflare limit the plane enforces or paces itself by, each with its source.

Enforced before anything is applied: counts at `validate`, sizes at preview (values are only
readable by the program). Values here are the documented ones as of November 2026.
"""

from __future__ import annotations

# Secrets Store (open beta): one store per account, 100 secrets per account, values up to
# 64 KiB. Source: Cloudflare Secrets Store docs and the Terraform provider v5 schema that
# pulumi-cloudflare bridges (ARCHITECTURE "Facts").
STORE_SECRETS_PER_ACCOUNT = 100
STORE_VALUE_MAX_BYTES = 65_536

# Workers: "Each environment variable has a size limitation of 5 KB" and "The maximum number of
# environment variables (secret and text combined) for a Worker is 128 variables on the Workers
# Paid plan, and 64 variables on the Workers Free plan."
# Source: developers.cloudflare.com/workers/platform/limits/#environment-variables
SECRET_TEXT_MAX_BYTES = 5 * 1024
WORKER_ENV_VARS_MAX = 128
ENV_VAR_TYPES = ("secret_text", "plain_text")

# `PATCH .../secrets-bulk`: "Each request supports up to 100 total operations (creates, updates,
# and deletes combined)." Source: Cloudflare changelog 2026-06-03, "New Workers bulk secrets API".
BULK_OPERATIONS_MAX = 100

# Version annotations: "workers/message ... Truncated to 1000 bytes", "workers/tag ... Maximum 100
# bytes". Source: the official SDK's generated `Annotations` type (cloudflare 5.9.0,
# types/workers/scripts/script_and_version_setting_edit_params.py).
ANNOTATION_MESSAGE_MAX_BYTES = 1000
ANNOTATION_TAG_MAX_BYTES = 100

# Global API limit: "1200 requests per five minutes per user ... If you exceed this limit, all
# API calls for the next five minutes will be blocked". The pacer reads the live figures from the
# `Ratelimit`/`Ratelimit-Policy` headers; these are the documented defaults it starts from.
# Source: developers.cloudflare.com/fundamentals/api/reference/limits/
API_REQUESTS_PER_WINDOW = 1200
API_WINDOW_SECONDS = 300
