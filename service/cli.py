"""The command line: `run` (the default), `chat`, `migrate`, `new-key` and `rotate-key`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator

import uvicorn

from bot.app import SlackRefused, socket_mode_handler
from service.chat import chat
from service.configs import MissingSettings, slack_config, store_options
from service.logs import configure_logging
from service.runtime import open_runtime
from service.web import build_web_app
from settings import Settings, SettingsError, load_settings
from stores import StoreError, open_store
from stores.sealing import new_key

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="app.py", description="Dexter for Slack")
    commands = root.add_subparsers(dest="command")
    commands.add_parser(
        "run", help="serve Slack (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)"
    )
    talk = commands.add_parser("chat", help="talk to Dexter in the terminal")
    talk.add_argument("--session", help="resume this session id")
    migrate = commands.add_parser("migrate", help="apply SQL schema migrations")
    migrate.add_argument("url", nargs="?", help="database URL (default: the configured store)")
    commands.add_parser("new-key", help="print a new key for DEXTER_ENCRYPTION_KEY")
    commands.add_parser(
        "rotate-key",
        help="seal every stored turn with the first key of DEXTER_ENCRYPTION_KEY (resumable)",
    )
    return root


class DrainingServer(uvicorn.Server):
    """uvicorn's server, stopped by SIGTERM or SIGINT without dying of the signal.

    uvicorn re-raises a caught signal once `serve()` returns, so a SIGTERM from Docker,
    Kubernetes or systemd killed the process before `Runtime.close` could let answers in
    flight finish and tell the rest. Here the signal only stops the server (no new work),
    and `serve` goes on to close the runtime and exit 0. A second signal still forces out.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SHUTDOWN_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def serve(settings: Settings) -> None:
    socket_mode = settings.slack_app_token is not None
    runtime = await open_runtime(settings, slack_config(settings, socket_mode=socket_mode))
    runtime.start_purging()
    server = DrainingServer(
        uvicorn.Config(
            build_web_app(runtime),
            host=settings.host,
            port=settings.port,
            log_config=None,
            lifespan="off",
        )
    )
    try:
        if socket_mode:
            handler = socket_mode_handler(
                runtime.slack,  # type: ignore[arg-type]
                settings.slack_app_token.get_secret_value(),  # type: ignore[union-attr]
            )
            log.info("Dexter is connecting to Slack in Socket Mode")
            await handler.connect_async()
            try:
                await server.serve()
            finally:
                await handler.close_async()
        else:
            log.info(
                "Dexter listens for Slack on http://%s:%s/slack/events",
                settings.host,
                settings.port,
            )
            await server.serve()
    finally:
        if server.should_exit:
            log.info("stopping: answers in progress get %.0f s", settings.dexter_shutdown_grace)
        await runtime.close()
        log.info("stopped")


async def rotate_key(settings: Settings) -> None:
    """Reseal the configured store's turns with the first key; each batch commits, so a
    run cut short goes on where it stopped when run again."""
    store = await open_store(settings.store_url, **store_options(settings))
    try:
        done = await store.reseal()
    finally:
        await store.close()
    log.info(
        "resealed %d turns and %d first questions of %s with the first key; %d left as they were",
        done.turns,
        done.first_questions,
        store.url,
        done.skipped,
    )


async def run_chat(settings: Settings, session: str | None) -> None:
    runtime = await open_runtime(settings, None)
    try:
        await chat(runtime, session)
    finally:
        await runtime.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "migrate":
        from stores.migrate import main as migrate

        return migrate([args.url or settings.store_url])
    if args.command == "new-key":
        print(new_key())
        return 0
    configure_logging(settings.log_level, settings.secret_values(), settings.log_format)
    try:
        if args.command == "chat":
            asyncio.run(run_chat(settings, args.session))
        elif args.command == "rotate-key":
            asyncio.run(rotate_key(settings))
        else:
            asyncio.run(serve(settings))
    except (MissingSettings, SlackRefused, StoreError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
