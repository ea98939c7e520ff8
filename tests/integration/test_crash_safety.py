"""Crash safety: the worker is killed with SIGKILL at random moments five times and
restarted; in the end every post is done exactly once in the store and none is lost."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.application.ports.storage import MessageFilter, NewPost
from channel_parser.domain.status import MessageStatus
from tests.integration.cli_support import CLI

POSTS = 1500
CHANNEL = -1002222222222
LEASE_SECONDS = 2


async def _store_posts(path: Path) -> None:
    storage = await SQLiteStorage.open(path)
    try:
        for i in range(POSTS):
            await storage.messages.add(
                NewPost(CHANNEL, i, f"Пост {i}: вакансия, новости, объявление #{i}"),
                datetime.now(UTC),
            )
    finally:
        await storage.close()


async def _read_store(path: Path) -> dict[MessageStatus, int]:
    storage = await SQLiteStorage.open(path)
    try:
        stats = await storage.messages.stats()
        results = [m async for m in storage.messages.iter_matching(MessageFilter())]
    finally:
        await storage.close()
    assert len(results) == POSTS  # one document per post: nothing lost, nothing doubled
    assert {m.message_id for m in results} == set(range(POSTS))
    assert all(m.result is not None for m in results if m.status is MessageStatus.DONE)
    return stats.by_status


def test_sigkill_five_times_then_every_post_is_done_exactly_once(
    tmp_path: Path, simulator_url: str
) -> None:
    db = tmp_path / "crash.sqlite3"
    asyncio.run(_store_posts(db))
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    env.update(
        SQLITE_PATH=str(db),
        LLM_PROVIDER="zai",
        LLM_BASE_URL=simulator_url + "/api/paas/v4",
        LLM_API_KEY="sk-crash-test-key",
        LLM_TIMEOUT="5",
        LEASE_SECONDS=str(LEASE_SECONDS),
        STUCK_CHECK_SECONDS="1",
        POLL_SECONDS="0.2",
        BACKOFF_BASE_SECONDS="0.2",
        BACKOFF_CAP_SECONDS="1",
        METRICS_PORT="0",
        LOG_LEVEL="ERROR",
    )
    rng = random.Random(20261130)
    for _ in range(5):
        worker = subprocess.Popen(
            [*CLI, "process"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(1.5, 3.5))  # a random moment of a real process's life
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL

    partial = asyncio.run(_read_store(db))
    print("done before the final run:", partial[MessageStatus.DONE])
    assert 0 < partial[MessageStatus.DONE] < POSTS  # the kills interrupted real work

    time.sleep(LEASE_SECONDS + 0.5)  # leases of the killed workers expire
    # `process --until-idle` stops when nothing is *due*: a post refused meanwhile (a
    # 1302, a timeout on a busy machine) waits for its retry time, so run it again
    # after the backoff until every post is done (each run bounded, at most five).
    for _ in range(5):
        final = subprocess.run(
            [*CLI, "process", "--until-idle"],
            check=False,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert final.returncode == 0, final.stderr
        by_status = asyncio.run(_read_store(db))
        if by_status[MessageStatus.DONE] == POSTS:
            break
        assert by_status[MessageStatus.RETRY] > 0, by_status  # only retries may wait
        time.sleep(1.0)  # BACKOFF_CAP_SECONDS
    assert by_status[MessageStatus.DONE] == POSTS, by_status

    with urllib.request.urlopen(simulator_url + "/admin/stats", timeout=5) as response:
        stats = json.load(response)
    # Every post was answered at least once; a kill between the answer and the save
    # costs one more call, never a lost or doubled post.
    assert len(stats["successes_by_text"]) == POSTS
    assert stats["successes"] >= POSTS
