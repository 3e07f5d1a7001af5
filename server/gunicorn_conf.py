"""gunicorn settings for the server: ``gunicorn -c python:server.gunicorn_conf ...``.

Only what a command-line option cannot say. After a worker has loaded the app, what is loaded
by then (modules, the app) lives as long as the worker: it is moved out of the garbage
collector's full passes (``gc.freeze``, as ``fieldsync-server run`` does), which otherwise
rescan it while a push builds thousands of dicts (in-process, 10,000 visits pushed in 21
batches on SQLite: 0.49-0.53 s of CPU without, 0.46-0.48 s with).
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Freeze what the worker has loaded out of the collector's full passes."""
    gc.freeze()
