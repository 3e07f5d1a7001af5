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
from demo.story import load_story
from demo.text import say
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
    echo(say(lang, "title", workspace=story.workspace))
    echo(say(lang, "workdir_temp" if temporary else "workdir", path=workdir))
    try:
        result = runner.run()
        _print_ready(result, lang, echo, time.monotonic() - started, serve)
        if serve:
            echo(say(lang, "serving"))
            _wait_for_ctrl_c()
            echo(say(lang, "stopped"))
        return result
    finally:
        runner.close()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        elif serve:
            echo(say(lang, "kept", path=workdir))


def _print_ready(
    result: DemoResult, lang: str, echo: Callable[[str], None], seconds: float, serve: bool
) -> None:
    echo("")
    echo(f"✔ {say(lang, 'ready')}{say(lang, 'elapsed', seconds=seconds)}")
    username, password = result.login
    echo(f"    {say(lang, 'login', username=username, password=password)}")
    if result.admin_login:
        admin, secret = result.admin_login
        echo(f"    {say(lang, 'admin_login', username=admin, password=secret)}")
    if not serve:  # nothing will answer at the addresses: do not print them
        echo(f"    {say(lang, 'not_served')}")
        return
    echo(f"    {say(lang, 'office_url', url=result.office_url)}")
    field_app = result.office_url.rstrip("/") + "/field/"
    echo(f"    {say(lang, 'field_app_url', url=field_app)}")
    if result.report.get("since"):
        since = result.report["since"]
        url = f"{result.office_url}?since={since}"
        echo(f"    {say(lang, 'dashboard', since=since, url=url)}")
    if result.field_url:
        echo(f"    {say(lang, 'field_url', device=result.field_device, url=result.field_url)}")
    echo(f"    {say(lang, 'try_it')}")


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
        raise click.ClickException(say(lang, "port_in_use", port=exc.port)) from None
    except StoryError as exc:
        raise click.ClickException(str(exc)) from None
    except (ClientError, ProtocolError, RuntimeError) as exc:
        detail = getattr(exc, "detail", "") or str(exc)
        raise click.ClickException(say(lang, "failed", detail=detail)) from None
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
