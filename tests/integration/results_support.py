"""Helpers for the results tests: exports of our own making, the CLI with a store's
settings, and a `simulate-zai` process's admin routes."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.adapters.storage.sqlite_rows import COLUMNS, to_row
from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage
from tests.integration.cli_support import CLI

BARE = 1700000042
CHANNEL = -1_000_000_000_000 - BARE
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
SAFE_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("LLM_", "TELEGRAM_", "ADMIN_", "MONGODB_", "SQLITE_", "REPARSE_"))
}


def post_time(message_id: int) -> datetime:
    return START + timedelta(hours=message_id)


def write_export(path: Path, texts: dict[int, str], bare: int = BARE) -> Path:
    """A Telegram Desktop single-channel export: post *id* published *id* hours after START."""
    messages = [
        {
            "id": message_id,
            "type": "message",
            "date": post_time(message_id).strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(post_time(message_id).timestamp())),
            "from": "Results test",
            "from_id": f"channel{bare}",
            "text": text,
            "text_entities": [{"type": "plain", "text": text}],
        }
        for message_id, text in sorted(texts.items())
    ]
    export = {"name": "Results test", "type": "public_channel", "id": bare, "messages": messages}
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return path


def distinct_posts(count: int, first: int = 1) -> dict[int, str]:
    return {
        i: f"Пост {i}: ищем разработчика #{i} в команду {i % 7}. Remote, salary {1000 + i}$."
        for i in range(first, first + count)
    }


class Cli:
    """The CLI as a subprocess, in *cwd*, with the settings of one store and provider."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = {**SAFE_ENV, "METRICS_PORT": "0", **env}

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 120, **env: str) -> str:
        result = self.run(*args, timeout=timeout, **env)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        return result.stdout

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen([*CLI, *args], cwd=self.cwd, env=self.env, text=True, **kwargs)

    def parse_all(self, timeout: float = 180) -> None:
        """`process --until-idle` until nothing waits: every post parsed or failed for good.
        (A run leaves retries not yet due: a 1302 while the limit is being learned; the
        backoff is short here, see make_cli.)"""
        deadline = time.monotonic() + timeout
        while True:
            self.ok("process", "--until-idle", timeout=timeout)
            counts = json.loads(self.ok("status", "--json"))["messages"]
            if counts["pending"] + counts["retry"] + counts["processing"] == 0:
                return
            assert time.monotonic() < deadline, f"still waiting: {counts}"
            time.sleep(0.5)


def admin(simulator_url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    """A simulator admin route (GET without a body, POST with one), on 127.0.0.1."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{simulator_url}/admin/{route}",
        data=data,
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def done_message(i: int, channel: int = CHANNEL) -> IncomingMessage:
    """A parsed post as the engine leaves it, with a result of the default schema."""
    at = START + timedelta(seconds=i)
    return IncomingMessage(
        channel_id=channel,
        message_id=i,
        text=f"Пост {i}: ищем Python-разработчика, удалённо. #вакансия #{i % 50}",
        received_at=at,
        posted_at=at,
        status=MessageStatus.DONE,
        result={
            "summary": f"Ищем Python-разработчика ({i})",
            "language": "ru",
            "topics": ["вакансия", str(i % 50)],
            "entities": [{"name": "Python", "type": "other"}],
            "links": [],
            "is_advertisement": False,
            "sentiment": "neutral",
        },
        updated_at=at,
        done_at=at,
        usage=LLMUsage(520, 80, 1, 0.2),
        model="glm-4.6",
        parser_fingerprint="0123456789abcdef",
    )


def fill_done(path: Path, count: int, batch: int = 10_000) -> None:
    """*count* parsed posts written straight into a SQLite file (the adapter's own rows:
    the engine would take minutes to parse that many)."""

    async def create() -> None:
        await (await SQLiteStorage.open(path)).close()

    asyncio.run(create())
    insert = (
        f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
    )
    with sqlite3.connect(path) as conn:
        for start in range(0, count, batch):
            stop = min(start + batch, count)
            conn.executemany(insert, (to_row(done_message(i)) for i in range(start, stop)))
