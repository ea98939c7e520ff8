"""One concurrency limit for every worker process, through the store they share.

Three `channel-parser process` workers share one store (one SQLite file; FerretDB) and a
simulated Z.AI that has no hidden limit and counts the calls it carries at once. The
limit is fixed at 4 by the settings (CONCURRENCY_MIN = CONCURRENCY_MAX = 4), so each
worker alone would run 4 calls: without a shared limiter the provider would carry up to
12. It must never carry more than 4, while carrying 4 at times (the workers use what they
share). A worker that holds permits (the store names its process) is killed (SIGKILL)
mid-run: its permits stay taken while their lease runs (CONCURRENCY_LEASE_SECONDS), then
the others take them and finish the backlog; every post ends `done` once, answered once
but for the calls the killed worker had in flight.

Sizes: FerretDB claims a few posts per second (every filtered write scans, ADR 0005), so
its run has fewer posts and a longer latency, to keep four calls at the provider.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymongo import MongoClient

from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.status import MessageStatus
from tests.integration import scale_support
from tests.integration.cli_support import CLI
from tests.integration.scale_support import (
    done_count,
    service_env,
    simulator,
    simulator_stats,
    statuses,
    stop,
    store_posts,
)

WORKERS = 3
SHARED_LIMIT = 4
PERMIT_LEASE = 3  # seconds: CONCURRENCY_LEASE_SECONDS


def _run(
    tmp_path: Path, settings: Settings, env_store: dict[str, str], posts: int, latency_ms: float
) -> None:
    asyncio.run(store_posts(settings, 0, posts))
    with simulator(tmp_path, limit=None, latency_ms=latency_ms) as sim:
        env = service_env(
            sim,
            CONCURRENCY_START=str(SHARED_LIMIT),
            CONCURRENCY_MIN=str(SHARED_LIMIT),
            CONCURRENCY_MAX=str(SHARED_LIMIT),
            CONCURRENCY_LEASE_SECONDS=str(PERMIT_LEASE),
            LEASE_SECONDS="5",
            STUCK_CHECK_SECONDS="1",
            LOG_LEVEL="WARNING",
            **env_store,
        )
        workers: list[subprocess.Popen[str]] = []
        samples: list[tuple[float, int]] = []  # (seconds after the kill, calls at the provider)
        try:
            for n in range(WORKERS):
                with (tmp_path / f"worker{n}.log").open("w") as log:
                    workers.append(
                        subprocess.Popen(
                            [*CLI, "process"],
                            env=env,
                            cwd=tmp_path,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            text=True,
                        )
                    )
            deadline = time.monotonic() + 240
            by_pid = {w.pid: w for w in workers}
            victim: subprocess.Popen[str] | None = None
            while victim is None:  # a worker holding permits, once the backlog is under way
                assert time.monotonic() < deadline, "the workers made no progress"
                assert all(w.poll() is None for w in workers), "a worker exited"
                time.sleep(0.2)
                if simulator_stats(sim)["successes"] < posts // 3:
                    continue
                holders = asyncio.run(permit_holders(settings))
                victim = next((by_pid[pid] for pid in holders if pid in by_pid), None)
            held = holders[victim.pid]
            victim.send_signal(signal.SIGKILL)  # dies holding permits and messages
            killed_at = time.monotonic()
            survivors = [w for w in workers if w is not victim]
            while asyncio.run(done_count(settings)) < posts:
                assert time.monotonic() < deadline, "the backlog was not finished"
                assert all(w.poll() is None for w in survivors), "a worker exited"
                samples.append((time.monotonic() - killed_at, simulator_stats(sim)["in_flight"]))
                time.sleep(0.2)
        finally:
            for worker in workers:
                stop(worker)
        stats = simulator_stats(sim)

    for n, worker in enumerate(workers):
        if worker is victim:
            continue
        log = (tmp_path / f"worker{n}.log").read_text()
        assert worker.returncode == 0, log[-2000:]
        assert "Traceback" not in log, log[-2000:]
    stored = asyncio.run(statuses(settings))
    assert Counter(status for _, status in stored) == {MessageStatus.DONE: posts}
    assert max(stored.values()) == 1  # one document per post
    by_text = stats["successes_by_text"]
    assert len(by_text) == posts
    twice = sum(count - 1 for count in by_text.values())
    assert twice <= SHARED_LIMIT  # only calls the killed worker had in flight went again
    print(
        f"\n{posts} posts, {WORKERS} workers, shared limit {SHARED_LIMIT}: peak at the "
        f"provider {stats['peak_in_flight']}, calls {stats['total_calls']}, answered twice "
        f"{twice}; the killed worker held {held} permit(s); calls at the provider after the "
        f"kill: {[(round(t, 1), n) for t, n in samples[:40]]}"
    )
    assert stats["rejections"] == {}
    assert stats["peak_in_flight"] <= SHARED_LIMIT  # never more than the one limit
    assert stats["peak_in_flight"] == SHARED_LIMIT  # ... and all of it used
    # The killed worker's permits stayed taken while their lease ran (renewed at most a
    # third of it before the kill), then came back: the survivors ran the full limit again.
    early = [calls for seconds, calls in samples if 0.5 <= seconds <= PERMIT_LEASE * 2 / 3 - 0.3]
    assert early and max(early) <= SHARED_LIMIT - held, samples[:20]
    back = [seconds for seconds, calls in samples if calls == SHARED_LIMIT]
    assert back and back[0] <= PERMIT_LEASE + 5, samples[:60]


async def permit_holders(settings: Settings) -> dict[int, int]:
    """The process ids of the workers holding permits now, with how many each holds (a
    worker's owner id is "host:pid:random")."""
    now = datetime.now(UTC)
    if settings.mongodb_uri is None:
        with sqlite3.connect(settings.sqlite_path) as conn:
            rows = conn.execute("SELECT owner, until FROM concurrency_permits").fetchall()
        owners = [owner for owner, until in rows if datetime.fromisoformat(until) > now]
    else:
        with MongoClient(settings.mongodb_uri.get_secret_value(), tz_aware=True) as client:
            docs = list(client[settings.mongodb_database].concurrency.find({}))
        slots = [d for d in docs if isinstance(d["_id"], int)]  # not the limit, nor marks
        owners = [d["owner"] for d in slots if d["until"] > now]
    return dict(Counter(int(owner.split(":")[1]) for owner in owners))


def test_workers_on_one_sqlite_file_share_one_limit(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    _run(tmp_path, scale_support.sqlite_settings(path), {"SQLITE_PATH": str(path)}, 150, 300)


@pytest.mark.slow
def test_workers_on_one_mongodb_share_one_limit(
    tmp_path: Path, mongo_uri: str, mongo_database: str
) -> None:
    settings = scale_support.mongo_settings(mongo_uri, mongo_database)
    env = {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": mongo_database}
    _run(tmp_path, settings, env, 60, 1500)
