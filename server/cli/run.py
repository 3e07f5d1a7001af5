"""``run``: serve the API and the office pages."""

from __future__ import annotations

import gc
import ssl
import sys
from collections.abc import Callable

import click

from server.cli.base import Settings, current_settings, make_app, one_line_errors
from server.cli.db import upgrade_database
from server.i18n import texts


def tls_context(cert: str | None, key: str | None, lang: str) -> ssl.SSLContext | None:
    """Return a TLS server context for a certificate and key file, or None for plain HTTP."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise click.ClickException(texts(lang).gettext("Give --cert and --key together."))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise click.ClickException(
            texts(lang).gettext("Cannot use the certificate or key: %(detail)s", detail=detail)
        ) from None
    return context


def serve(
    settings: Settings,
    host: str,
    port: int,
    echo: Callable[[str], None],
    tls: ssl.SSLContext | None = None,
) -> None:
    """Run a threaded HTTP(S) server until interrupted (the schema is upgraded first)."""
    from werkzeug.serving import make_server

    upgrade_database(settings)
    app = make_app(settings)
    server = make_server(host, port, app, threaded=True, ssl_context=tls)
    # What is loaded by now (modules, the app) lives as long as the process: keep it out of
    # the collector's full passes, which otherwise rescan it while a push builds thousands of
    # dicts (about 10% of a 1,000-change push).
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    url = f"{scheme}://{shown}:{server.server_port}/"
    echo(
        texts(settings.lang).gettext(
            "Fieldsync server running at %(url)s  (Ctrl+C to stop)", url=url
        )
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        echo(texts(settings.lang).gettext("Server stopped."))


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free).")
@click.option("--cert", default=None, help="TLS certificate file (PEM): serve HTTPS.")
@click.option("--key", default=None, help="TLS private key file (PEM), with --cert.")
@one_line_errors
def run_command(host: str, port: int, cert: str | None, key: str | None) -> None:
    """Serve the API and office pages with a threaded HTTP server (upgrades the schema first).

    With --cert and --key it serves HTTPS, which tablets need to keep the field app offline.
    For production use gunicorn behind a reverse proxy:
    gunicorn -w 4 --certfile cert.pem --keyfile key.pem 'server:create_app()'.

    Example:

    \b
        fieldsync-server run --host 0.0.0.0 --port 8000
    """
    settings = current_settings()
    tls = tls_context(cert, key, settings.lang)

    def say(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    serve(settings, host, port, say, tls)
