"""Known secrets never show: run the service with all of them set, drive failures that
echo the API key, then grep every log line, notification, `status` output, stored error,
exception message and the /metrics body for each secret and its first and last 8
characters.

Elsewhere: the session file is created 0600 (tests/unit/telegram/test_login.py and
test_telethon_source.py), the bot notifier sends only to the configured admin chats and
never logs its token (tests/integration/test_bot_notifier.py), /metrics binds to
loopback (tests/integration/test_service.py; the default is checked here too)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.message import MessageKey
from tests.fakes.notify import RecordingNotifier
from tests.integration.cli_support import CLI, free_port
from tests.integration.engine_support import service, settings_for, simulator

LLM_KEY = "sk-secret-LLM-key-0123456789abcdefXYZ"
API_HASH = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "123456789:AAHsecretBotToken-abcdefghijklmnop"
DB_PASSWORD = "Pa55-w0rd-Of-The-Database"
SECRETS = (LLM_KEY, API_HASH, BOT_TOKEN, DB_PASSWORD)
CHANNEL = -1003333333333
ADMINS = (111, 222)


def leaks(texts: Iterable[str]) -> list[str]:
    """Each (secret piece, where) found; the pieces are the secret and its head and tail."""
    found = []
    for text in texts:
        for secret in SECRETS:
            for piece in (secret, secret[:8], secret[-8:]):
                if piece in text:
                    found.append(f"{piece!r} in {text[max(text.find(piece) - 80, 0) :][:200]!r}")
    return found


def echo_triggers(sim: Any) -> None:
    """Provider error texts that echo the key, as OpenAI's and some proxies' do."""
    sim.trigger("echo-500", {"kind": "500", "message": f"upstream saw key {LLM_KEY}"}, 1)
    sim.trigger("echo-1302", {"kind": "1302", "message": f"too many for {LLM_KEY[:12]}..."}, 1)
    sim.trigger("echo-1002", {"kind": "1002", "message": f"Incorrect API key provided: {LLM_KEY}."})


POSTS = ("обычный пост про погоду", "echo-500 пост", "echo-1302 пост", "echo-1002 пост")


class BotAPI:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_message(self, request: web.Request) -> web.Response:
        self.sent.append(await request.json())
        return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})

    async def get_me(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": {"username": "admins_bot"}})


@asynccontextmanager
async def bot_api() -> AsyncIterator[tuple[BotAPI, str]]:
    api = BotAPI()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.send_message)
    app.router.add_post("/bot{token}/getMe", api.get_me)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield api, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def base_env() -> dict[str, str]:
    keep = ("MONGODB_", "TELEGRAM_", "LLM_", "ADMIN_", "SQLITE_", "METRICS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(keep)}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:
        return 0, ""


async def cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_the_service_run_shows_no_secret_anywhere(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    async with simulator() as sim, bot_api() as (bot, bot_base):
        echo_triggers(sim)
        async with service(settings_for(sim.base_url, db)) as c:  # the posts, in order
            ingest = await c.ingest.async_()
            for i, text in enumerate(POSTS, start=1):
                await ingest(NewPost(CHANNEL, i, text))
        port = free_port()
        env = {
            **base_env(),
            "SQLITE_PATH": str(db),
            "LLM_BASE_URL": sim.base_url,
            "LLM_API_KEY": LLM_KEY,
            "LLM_TIMEOUT": "2",
            "CONCURRENCY_START": "1",
            "TELEGRAM_API_ID": "12345",
            "TELEGRAM_API_HASH": API_HASH,
            "ADMIN_BOT_TOKEN": BOT_TOKEN,
            "ADMIN_CHAT_IDS": ",".join(map(str, ADMINS)),
            "ADMIN_BOT_API_BASE": bot_base,
            "METRICS_PORT": str(port),
            "LOG_LEVEL": "DEBUG",
        }
        proc = await asyncio.create_subprocess_exec(
            *CLI, "run", env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            metrics, deadline = "", time.monotonic() + 30
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                _, metrics = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
                if 'code="1002"' in metrics and len(bot.sent) >= 2 * 2:
                    break
            _, health = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/healthz")
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        status_rc, status = await cli("status", env=env, cwd=tmp_path)
        json_rc, status_json = await cli("status", "--json", env=env, cwd=tmp_path)
        faults = sim.stats().faults

    logs = err.decode()
    assert proc.returncode == 0, logs[-2000:]
    assert faults == {"500": 1, "1302": 1, "1002": 1}, faults  # every echo was served
    assert 'code="1002"' in metrics and 'code="500"' in metrics
    assert "Incorrect API key provided" in logs and "upstream saw key" in logs
    # the concurrency and the misconfiguration notices, each to both admin chats only
    assert sorted({m["chat_id"] for m in bot.sent}) == list(ADMINS)
    texts = [m["text"] for m in bot.sent]
    assert any(t.startswith("⛔") and "Incorrect API key provided" in t for t in texts)
    assert status_rc == 0 and json_rc == 0
    json.loads(status_json)
    everything = [logs, out.decode(), metrics, health, status, status_json, *texts]
    assert leaks(everything) == []


@pytest.mark.parametrize("command", [("run",), ("status",), ("status", "--json")])
async def test_an_unreachable_mongodb_with_a_password_is_reported_without_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    uri = (
        f"mongodb://parser:{DB_PASSWORD}@127.0.0.1:{free_port()}/"
        "?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    )
    env = {
        **base_env(),
        "MONGODB_URI": uri,
        "LLM_API_KEY": LLM_KEY,
        "TELEGRAM_API_HASH": API_HASH,
        "ADMIN_BOT_TOKEN": BOT_TOKEN,
        "METRICS_PORT": "0",
        "LOG_LEVEL": "DEBUG",
    }
    rc, out = await cli(*command, env=env, cwd=tmp_path)
    assert rc == 3, out
    assert "storage unavailable" in out
    assert leaks([out]) == []


@pytest.mark.parametrize(
    "uri",
    [
        f"mongodb://parser:{DB_PASSWORD}@127.0.0.1:99999999/",  # a bad port
        f"mongodb://parser:{DB_PASSWORD}@/",  # no host
        f"mongodb://parser:{DB_PASSWORD}:extra@127.0.0.1/",  # an unescaped colon
        f"mongo://parser:{DB_PASSWORD}@127.0.0.1/",  # a bad scheme
    ],
)
async def test_a_malformed_mongodb_uri_is_reported_without_its_password(
    tmp_path: Path, uri: str
) -> None:
    env = {**base_env(), "MONGODB_URI": uri, "METRICS_PORT": "0"}
    rc, out = await cli("status", env=env, cwd=tmp_path)
    assert rc == 2, out  # one line naming the setting, no traceback
    assert out.startswith("channel-parser: error: setting MONGODB_URI: "), out
    assert out.count("\n") == 1, out
    assert leaks([out]) == []


async def test_in_process_logs_failures_and_stored_errors_hold_no_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the service's logging filter (caplog sees records before it): what the
    adapters and use cases themselves write must already be clean."""
    caplog.set_level(logging.DEBUG)
    notifier = RecordingNotifier()
    async with simulator() as sim:
        echo_triggers(sim)
        settings = settings_for(
            sim.base_url,
            tmp_path / "store.sqlite3",
            llm_api_key=SecretStr(LLM_KEY),
            telegram_api_hash=SecretStr(API_HASH),
            admin_bot_token=SecretStr(BOT_TOKEN),
            concurrency_start=1,
        )
        async with service(settings, notifier) as c:
            ingest = await c.ingest.async_()
            for i, text in enumerate(POSTS, start=1):
                await ingest(NewPost(CHANNEL, i, text))
            await asyncio.wait_for((await c.engine.async_()).run(until_idle=True), 30)
            messages = await c.messages.async_()
            stored = [await messages.get(MessageKey(CHANNEL, i)) for i in range(1, 5)]
            report = await (await c.status.async_())()
            rendered = c.metrics().render().decode()
    errors = [m.last_error for m in stored if m is not None and m.last_error is not None]
    assert {e.code for e in errors} >= {"500", "1002"}
    assert any(t.startswith("⛔") for t in notifier.sent)
    texts = [
        caplog.text,
        *notifier.sent,
        *(e.message for e in errors),
        *(repr(m) for m in stored),
        repr(report),
        rendered,
    ]
    assert leaks(texts) == []


def test_secrets_are_secret_in_the_settings_and_metrics_bind_to_loopback() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm_api_key=SecretStr(LLM_KEY),
        telegram_api_hash=SecretStr(API_HASH),
        admin_bot_token=SecretStr(BOT_TOKEN),
        mongodb_uri=SecretStr(f"mongodb://parser:{DB_PASSWORD}@db.example:27017/"),
    )
    assert settings.metrics_host == "127.0.0.1"
    assert leaks([repr(settings), str(settings), settings.model_dump_json()]) == []
