"""Helpers for the scale-out and database-outage tests: a simulator of chosen limit and
latency, worker processes of the CLI, their /metrics, and the store's contents."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channel_parser.application.ports.storage import MessageFilter, NewPost
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import open_storage
from channel_parser.domain.status import MessageStatus
from channel_parser.simulator.server import API_PATH
from tests.integration.cli_support import CLI, free_port

CHANNEL = -1003333333333


def post_text(i: int) -> str:
    return f"Пост {i}: вакансия Python-разработчика, зарплата {1000 + i} USD, Москва #{i}"


@contextlib.contextmanager
def simulator(cwd: Path, *, limit: int | None, latency_ms: float) -> Iterator[str]:
    """A `simulate-zai` process (*limit* None: no hidden concurrency limit); yields its
    root URL and stops it afterwards."""
    port = free_port()
    hidden = [] if limit is None else ["--concurrency-limit", str(limit)]
    proc = subprocess.Popen(
        [
            *CLI,
            "simulate-zai",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            *hidden,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def simulator_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/admin/stats", timeout=5) as response:
        stats: dict[str, Any] = json.load(response)
    return stats


def service_env(simulator_url: str, **settings: str) -> dict[str, str]:
    """The environment of a worker: no Telegram, the simulator as Z.AI, fast timers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MONGODB_", "TELEGRAM_", "SQLITE_", "ADMIN_", "BOT_"))
    }
    env.update(
        LLM_PROVIDER="zai",
        LLM_BASE_URL=simulator_url + API_PATH,
        LLM_API_KEY="sk-scale-test-key",
        LLM_TIMEOUT="10",
        LEASE_SECONDS="30",
        STUCK_CHECK_SECONDS="2",
        POLL_SECONDS="0.2",
        BACKOFF_BASE_SECONDS="0.2",
        BACKOFF_CAP_SECONDS="1",
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


def scrape(port: int) -> dict[str, float]:
    """The unlabelled samples (and labelled ones by full name) of a worker's /metrics;
    empty when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            body = response.read().decode()
    except (urllib.error.URLError, OSError):
        return {}
    samples: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within *timeout*."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def mongo_settings(uri: str, database: str) -> Settings:
    return Settings(_env_file=None, mongodb_uri=uri, mongodb_database=database)


def sqlite_settings(path: Path) -> Settings:
    return Settings(_env_file=None, mongodb_uri=None, sqlite_path=path)


async def store_posts(settings: Settings, first: int, count: int) -> None:
    async with open_storage(settings) as stores:
        for i in range(first, first + count):
            await stores.messages.add(NewPost(CHANNEL, i, post_text(i)), datetime.now(UTC))


async def statuses(settings: Settings) -> Counter[tuple[int, MessageStatus]]:
    """(message_id, status) of every stored message, counted (a count > 1 is a double)."""
    async with open_storage(settings) as stores:
        return Counter(
            [(m.message_id, m.status) async for m in stores.messages.iter_matching(MessageFilter())]
        )


async def done_count(settings: Settings) -> int:
    async with open_storage(settings) as stores:
        return (await stores.messages.stats()).by_status.get(MessageStatus.DONE, 0)


def wait_until(predicate: Any, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())
