"""cosmic-ray's http worker, listening on loopback only (`cosmic-ray http-worker` binds every
interface). Usage: python mutation/worker.py PORT, from the copy of the tree it mutates."""

from __future__ import annotations

import sys

from aiohttp import web
from cosmic_ray.distribution.http import handle_mutate_and_test

if __name__ == "__main__":
    app = web.Application()
    app.add_routes([web.post("/", handle_mutate_and_test)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
