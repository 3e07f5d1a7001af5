"""``fieldsync-server demo``: play the article's story and leave the office open to explore."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from demo.errors import PortInUse, StoryError
from demo.i18n import texts
from demo.story import load_story
from field_client.errors import ClientError
from sync import ProtocolError

if TYPE_CHECKING:
    from demo.runner import DemoResult

__all__ = ["demo", "run_demo"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_demo(
    *,
    lang: str = "zh",
    port: int = 0,
    field_port: int = 0,
    serve: bool = True,
    data_dir: Path | None = None,
    story_path: Path | None = None,
    echo: Callable[[str], None] = click.echo,
    live: Callable[[str], None] | None = None,
) -> DemoResult:
    """Play the story on a fresh SQLite database; serve until Ctrl-C when ``serve``.

    With ``data_dir`` the data stays there (the folder must be new or empty); otherwise it lives
    in a temporary folder removed at the end. Return what the demo built.
    """
    from demo.runner import Demo  # imported here: `fieldsync-server --help` stays quick

    story = load_story(story_path)
    temporary = data_dir is None
    workdir = Path(tempfile.mkdtemp(prefix="fieldsync-demo-")) if temporary else Path(data_dir)
    if not temporary:
        if workdir.exists() and any(workdir.iterdir()):
            raise click.UsageError(f"--data-dir {workdir}: choose a new or empty folder")
        workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runner = Demo(
        story, workdir, lang=lang, port=port, field_port=field_port, echo=echo, live=live
    )
    echo(texts(lang).gettext("Fieldsync demo · %(workspace)s", workspace=story.workspace))
    if temporary:
        echo(
            texts(lang).gettext(
                "Data folder: %(path)s (temporary, removed when the demo ends)", path=workdir
            )
        )
    else:
        echo(texts(lang).gettext("Data folder: %(path)s", path=workdir))
    try:
        result = runner.run()
        _print_ready(result, lang, echo, time.monotonic() - started, serve)
        if serve:
            echo(texts(lang).gettext("Press Ctrl-C to end the demo."))
            _wait_for_ctrl_c()
            echo(texts(lang).gettext("The demo has ended."))
        return result
    finally:
        runner.close()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        elif serve:
            echo(texts(lang).gettext("The data stays in %(path)s", path=workdir))


def _print_ready(
    result: DemoResult, lang: str, echo: Callable[[str], None], seconds: float, serve: bool
) -> None:
    _ = texts(lang).gettext
    echo("")
    echo(f"✔ {_('The demo is ready')}{_(' (took %(seconds).1f s)', seconds=seconds)}")
    username, password = result.login
    login = _("Demo login: username %(username)s  password %(password)s", username=username,
              password=password)  # fmt: skip
    echo(f"    {login}")
    if result.admin_login:
        admin, secret = result.admin_login
        login = _("Administrator login: username %(username)s  password %(password)s",
                  username=admin, password=secret)  # fmt: skip
        echo(f"    {login}")
    if not serve:  # nothing will answer at the addresses: do not print them
        echo("    " + _(
            "(--no-serve: the demo has ended and nothing is serving, so no addresses are shown; "
            "run without --no-serve to open the pages.)"
        ))  # fmt: skip
        return
    echo("    " + _("Office pages: %(url)s", url=result.office_url))
    field_app = result.office_url.rstrip("/") + "/field/"
    echo("    " + _("Field app (tablets and phones, works offline): %(url)s", url=field_app))
    if result.report.get("since"):
        since = result.report["since"]
        url = f"{result.office_url}?since={since}"
        echo("    " + _("Dashboard since %(since)s: %(url)s", since=since, url=url))
    if result.field_url:
        device, url = result.field_device, result.field_url
        echo("    " + _("Field UI of %(device)s: %(url)s", device=device, url=url))
    echo("    " + _(
        "Try it: log in, open Conflicts and settle the waiting one, then press Sync in the "
        "field UI."
    ))  # fmt: skip


def _wait_for_ctrl_c() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, whatever the shell did to SIGINT before."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        stop.wait()  # pragma: no cover (only the main thread receives signals)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _live_line() -> Callable[[str], None] | None:
    """Return a writer that rewrites one status line on a terminal, or None elsewhere."""
    stream = sys.stdout
    if not stream.isatty():
        return None

    def write(text: str) -> None:
        stream.write("\r\033[K" + text)
        stream.flush()

    return write


@click.command("demo")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the office server on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--field-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the device's field UI on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="Language of the output (default: Simplified Chinese, or the group's --lang).",
)
@click.option("--no-serve", is_flag=True, help="Exit after printing (for scripts and CI).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's data in this new or empty folder (default: a temporary one).",
)
@click.option(
    "--story",
    "story_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Play another story file (default: the packaged story.toml).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    port: int,
    field_port: int,
    lang: str | None,
    no_serve: bool,
    data_dir: Path | None,
    story_path: Path | None,
) -> None:
    """Play the article's story end to end: an office server, two devices, one conflict.

    Everything runs on this machine: a fresh SQLite database, the office server on a real
    socket, two field devices enrolled over HTTP that record, sync and edit offline. Then it
    prints the office's report, the office address with a login, and one device's field UI,
    and serves until Ctrl-C.

    Example: fieldsync-server demo --no-serve --lang en
    """
    lang = lang or getattr(ctx.obj, "lang", None) or "zh"
    try:
        run_demo(
            lang=lang,
            port=port,
            field_port=field_port,
            serve=not no_serve,
            data_dir=data_dir,
            story_path=story_path,
            live=_live_line(),
        )
    except PortInUse as exc:
        raise click.ClickException(
            texts(lang).gettext(
                "Port %(port)s is taken by another program: choose another --port, or --port 0.",
                port=exc.port,
            )
        ) from None
    except StoryError as exc:
        raise click.ClickException(str(exc)) from None
    except (ClientError, ProtocolError, RuntimeError) as exc:
        detail = getattr(exc, "detail", "") or str(exc)
        raise click.ClickException(
            texts(lang).gettext("The demo stopped: %(detail)s", detail=detail)
        ) from None
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
