"""`channel-parser run` refuses what can never work at start, each in one line (exit 2),
before it opens anything: no session file, a TELEGRAM_CHANNELS entry that names no
channel, and a bot token the Bot API refuses (getMe, against a stand-in on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.integration.cli_support import CLI

TOKEN = "123456:WRONG-token"


def env_for(tmp_path: Path, **more: str) -> dict[str, str]:
    keep = ("MONGODB_", "TELEGRAM_", "LLM_", "ADMIN_", "SQLITE_", "METRICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    env.update(
        {
            "SQLITE_PATH": str(tmp_path / "store.sqlite3"),
            "LLM_API_KEY": "sk-not-used",
            "METRICS_PORT": "0",
            **more,
        }
    )
    return env


async def run(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, err.decode()


TELEGRAM = {"TELEGRAM_API_ID": "12345", "TELEGRAM_API_HASH": "0123456789abcdef"}


async def test_without_a_session_file_run_says_login_first_and_creates_nothing(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path, **TELEGRAM, TELEGRAM_CHANNELS="@jobs", TELEGRAM_SESSION="typo.session")
    code, err = await run(tmp_path, env)
    assert code == 2
    assert err.splitlines() == [
        "channel-parser: error: TELEGRAM_SESSION typo.session: no such session; "
        "run `channel-parser login` first"
    ]
    left = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert left == []  # no stray session, no store


async def test_a_channel_entry_that_names_no_channel_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "acct.session").touch()
    env = env_for(
        tmp_path,
        **TELEGRAM,
        TELEGRAM_SESSION=str(tmp_path / "acct.session"),
        TELEGRAM_CHANNELS="@jobs,https://t.me/addstickers/Animals",
    )
    code, err = await run(tmp_path, env)
    assert code == 2
    assert err.splitlines() == [
        "channel-parser: error: setting TELEGRAM_CHANNELS: 'https://t.me/addstickers/Animals': "
        "a sticker set link, not a channel"
    ]
    assert not (tmp_path / "store.sqlite3").exists()


@pytest.fixture
async def refusing_bot_api() -> AsyncIterator[str]:
    async def get_me(request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return web.json_response(body, status=401)

    app = web.Application()
    app.router.add_post("/bot{token}/getMe", get_me)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_bot_token_the_bot_api_refuses_stops_run_in_one_line(
    tmp_path: Path, refusing_bot_api: str
) -> None:
    env = env_for(
        tmp_path,
        ADMIN_BOT_TOKEN=TOKEN,
        ADMIN_CHAT_IDS="111",
        ADMIN_BOT_API_BASE=refusing_bot_api,
    )
    code, err = await run(tmp_path, env)
    assert code == 2, err
    assert err.splitlines() == [
        "channel-parser: error: setting ADMIN_BOT_TOKEN: the Bot API refuses it (Unauthorized)"
    ]
    assert "Traceback" not in err and TOKEN not in err
