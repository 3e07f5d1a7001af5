"""``run``: serve the API and the office pages."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import click

from server.cli.base import Settings, current_settings, make_app, one_line_errors, say
from server.cli.db import upgrade_database


def serve(settings: Settings, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Run a threaded HTTP server until interrupted (the schema is upgraded first)."""
    from werkzeug.serving import make_server

    upgrade_database(settings)
    app = make_app(settings)
    server = make_server(host, port, app, threaded=True)
    # What is loaded by now (modules, the app) lives as long as the process: keep it out of
    # the collector's full passes, which otherwise rescan it while a push builds thousands of
    # dicts (about 10% of a 1,000-change push).
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    echo(say("serving", settings.lang, url=f"http://{shown}:{server.server_port}/"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        echo(say("stopped", settings.lang))


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free).")
@one_line_errors
def run_command(host: str, port: int) -> None:
    """Serve the API and office pages with a threaded HTTP server (upgrades the schema first).

    For production use gunicorn: gunicorn -w 4 'server:create_app()'.

    Example:

    \b
        fieldsync-server run --host 0.0.0.0 --port 8000
    """
    serve(current_settings(), host, port, lambda line: click.echo(line) or sys.stdout.flush())
