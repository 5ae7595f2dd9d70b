"""The entry point: configuration errors, the manifest, the terminal chat, log redaction."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent import log_context
from bot.commands import CLEAR_COMMAND, HISTORY_COMMAND
from bot.shortcuts import CLEAR_THREAD_CALLBACK
from service.logs import configure_logging
from settings import load_settings
from standins.market_data import API_KEY as MARKET_DATA_KEY
from standins.openai_server import API_KEY as MODEL_KEY
from stores import Sealer, Turn, open_store

ROOT = Path(__file__).resolve().parent.parent


def run_app(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DEXTER_", "OPENAI_"))
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        env={**clean, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_slack_tokens_say_what_to_set(tmp_path: Path) -> None:
    result = run_app(env={}, cwd=tmp_path)

    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "README" in result.stderr and "Traceback" not in result.stderr


def test_socket_mode_needs_the_app_token_too(tmp_path: Path) -> None:
    result = run_app(env={"SLACK_APP_TOKEN": "xapp-1-abc"}, cwd=tmp_path)

    assert result.returncode == 2 and "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" not in result.stderr


def test_http_mode_names_both_ways_to_receive_events(tmp_path: Path) -> None:
    result = run_app(env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)

    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_model_key_against_openai_itself_stops_the_start(tmp_path: Path) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}

    result = run_app(env={**slack, "DEXTER_EMBEDDINGS": "lexical"}, cwd=tmp_path)

    assert result.returncode == 2 and "OPENAI_API_KEY" in result.stderr
    assert "OPENAI_BASE_URL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("memory://", "no schema to migrate"),
        ("redis://127.0.0.1:6379/0", "no schema to migrate"),
        ("nosuch://x", "supported schemes"),
        ("postgres://postgres@127.0.0.1:1/test", "unavailable"),
        ("postgresql://postgres:hunter22@127.0.0.1:1/test", "unavailable"),
    ],
)
def test_migrate_says_in_one_line_why_it_cannot(tmp_path: Path, url: str, said: str) -> None:
    result = run_app("migrate", url, env={}, cwd=tmp_path)

    assert result.returncode == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "hunter22" not in result.stderr


def test_migrate_upgrades_a_sqlite_file(tmp_path: Path) -> None:
    result = run_app("migrate", f"sqlite:///{tmp_path / 'x.db'}", env={}, cwd=tmp_path)

    assert result.returncode == 0 and "is at revision" in result.stdout


def test_a_malformed_setting_names_the_variable(tmp_path: Path) -> None:
    result = run_app(env={"PORT": "eighty", "DEXTER_MAX_ITERATIONS": "0"}, cwd=tmp_path)

    assert result.returncode == 2
    assert "PORT" in result.stderr and "DEXTER_MAX_ITERATIONS" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_store_url_is_refused_without_its_password(tmp_path: Path) -> None:
    result = run_app("chat", env={"DEXTER_STORE_URL": "ftp://user:hunter22@db/x"}, cwd=tmp_path)

    assert result.returncode == 2 and "supported schemes" in result.stderr
    assert "hunter22" not in result.stderr and "ftp://user:***@db/x" in result.stderr


async def test_rotate_key_reseals_the_store_with_a_new_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dexter.db'}"
    old = run_app("new-key", env={}, cwd=tmp_path).stdout.strip()
    new = run_app("new-key", env={}, cwd=tmp_path).stdout.strip()
    store = await open_store(url, sealer=Sealer.from_setting(old))
    await store.append("slack:T1:C1:1.000100", Turn(question="Apple's margin?", answer="45 %"))
    await store.close()

    rotated = run_app(
        "rotate-key",
        env={"DEXTER_STORE_URL": url, "DEXTER_ENCRYPTION_KEY": f"{new},{old}"},
        cwd=tmp_path,
    )
    again = run_app(
        "rotate-key", env={"DEXTER_STORE_URL": url, "DEXTER_ENCRYPTION_KEY": new}, cwd=tmp_path
    )

    assert rotated.returncode == 0, rotated.stderr
    assert "resealed 1 turns and 1 first questions" in rotated.stderr
    assert old not in rotated.stderr + rotated.stdout and new not in rotated.stderr
    assert again.returncode == 0 and "resealed 0 turns" in again.stderr
    store = await open_store(url, sealer=Sealer.from_setting(new))
    try:
        [turn] = await store.load("slack:T1:C1:1.000100")
    finally:
        await store.close()
    assert turn.answer == "45 %"


def test_terminal_chat_answers_and_resumes(tmp_path: Path, model, market_data_server) -> None:
    env = {
        "OPENAI_API_KEY": MODEL_KEY,
        "OPENAI_BASE_URL": model.url,
        "FINANCIAL_DATASETS_API_KEY": MARKET_DATA_KEY,
        "FINANCIAL_DATASETS_BASE_URL": market_data_server.url,
        "DEXTER_STORE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "DEXTER_EMBEDDINGS": "lexical",
    }

    first = run_app("chat", env=env, cwd=tmp_path, stdin="What was Apple's revenue in 2023?\n")

    assert first.returncode == 0, first.stderr
    assert "income statements · AAPL" in first.stdout and "AAPL" in first.stdout
    assert "Sources:" in first.stdout
    session = first.stdout.rsplit("--session ", 1)[1].split()[0]

    again = run_app("chat", "--session", session, env=env, cwd=tmp_path, stdin="And in 2024?\n")

    assert again.returncode == 0, again.stderr
    assert "(1 earlier turns)" in again.stdout
    assert "What was Apple's revenue in 2023?" in model.requests("understand")[-1].text


def test_manifest_declares_what_the_app_listens_to() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features, settings = manifest["features"], manifest["settings"]

    commands = {c["command"] for c in features["slash_commands"]}
    shortcuts = {s["callback_id"] for s in features["shortcuts"]}
    events = set(settings["event_subscriptions"]["bot_events"])

    assert commands == {HISTORY_COMMAND, CLEAR_COMMAND}
    assert shortcuts == {CLEAR_THREAD_CALLBACK}
    assert all(len(s["name"]) <= 24 for s in features["shortcuts"])  # Slack's limit
    assert events == {
        "app_home_opened",
        "app_mention",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    } | {f"message.{kind}" for kind in ("channels", "groups", "im", "mpim")}
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "assistant:write",
        "channels:history",
        "channels:read",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "mpim:history",
        "mpim:read",
    }


def test_logs_never_carry_secrets(capsys) -> None:
    settings = load_settings(
        _env_file=None,
        slack_bot_token="xoxb-1234-abcdef",
        openai_api_key="sk-live-abcdef123456",
        redis_url="redis://:hunter2hunter2@cache:6379/0",
    )
    configure_logging("INFO", settings.secret_values())
    log = logging.getLogger("test.redaction")
    try:
        log.info("token %s, password %s", "xoxb-1234-abcdef", "hunter2hunter2")
        try:
            raise RuntimeError("request with Authorization: Bearer sk-live-abcdef123456 failed")
        except RuntimeError:
            log.exception("a call failed")
    finally:
        logging.getLogger().handlers.clear()

    written = capsys.readouterr().err
    assert "token ***, password ***" in written and "a call failed" in written
    assert "RuntimeError" in written  # the traceback is kept, only the secret goes
    for secret in ("xoxb-1234-abcdef", "hunter2hunter2", "sk-live-abcdef123456"):
        assert secret not in written


def test_json_logs_are_one_object_a_line_about_the_session_and_event(capsys) -> None:
    secret = "sk-live-abcdef123456"
    configure_logging("INFO", [secret], "json")
    log = logging.getLogger("test.json")
    try:
        log_context.about("slack:T0001:C0001:1710000000.000100", "slack-message:T0001:C0001:1")
        try:
            raise RuntimeError(f"Bearer {secret} refused")
        except RuntimeError:
            log.exception("answer failed [ref 0badcafe] in the thread")
        log_context.about(None)
        log.info("a line about nothing in particular")
    finally:
        logging.getLogger().handlers.clear()

    failed, plain = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert failed["level"] == "ERROR" and failed["reference"] == "0badcafe"
    assert failed["session"] == log_context.session_hash("slack:T0001:C0001:1710000000.000100")
    assert failed["event"] == "slack-message:T0001:C0001:1"
    assert "RuntimeError" in failed["exception"] and secret not in failed["exception"]
    assert set(plain) == {"time", "level", "logger", "message"}
