"""Scale-out: three worker processes (`channel-parser run --no-listener`) share one store
and one simulated Z.AI with a hidden concurrency limit; the backlog ends with each post
parsed exactly once, and the one limit the three learn together is the provider's.

What is measured. The simulator refuses (429/1302) every call above its limit before
counting it in flight, so its `peak_in_flight` counts the calls it admitted, the calls
the provider had to carry: it must never exceed the limit (margin 0). What the shared
learning limiter costs is the number of 1302 refusals (at most 2 % of the calls; its
probes above the limit, under 1 % in practice). At the end every worker reports the
same learned limit (read from each worker's /metrics), at most the provider's plus one
(a probe). On FerretDB the claims are the bottleneck (a few posts per second) and the
provider's limit is never met, so only the SQLite run exercises the limiter's learning
(tests/integration/test_shared_limit.py shows the limit shared on both stores).

Sizes. On FerretDB (the test server) every filtered write scans the whole collection
(docs/adr/0005), so the MongoDB run uses SCALE_OUT_POSTS posts (default 120, well
under a minute there). Against a real MongoDB set SCALE_OUT_POSTS to a few thousand:
a real server does not scan and runs that size in about the time the SQLite case
takes. The few-thousand case runs here on one SQLite file shared by three processes,
which is the SQLite deployment (one machine); SCALE_OUT_SQLITE_POSTS, default 2000.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.status import MessageStatus
from tests.integration import scale_support
from tests.integration.cli_support import CLI, free_port
from tests.integration.scale_support import (
    post_text,
    scrape,
    service_env,
    simulator,
    simulator_stats,
    statuses,
    stop,
    store_posts,
)

WORKERS = 3
LIMIT = 6  # the provider's hidden concurrency limit
LATENCY_MS = 100
MONGO_POSTS = int(os.environ.get("SCALE_OUT_POSTS", "120"))
SQLITE_POSTS = int(os.environ.get("SCALE_OUT_SQLITE_POSTS", "2000"))
MAX_REFUSED_SHARE = 0.02  # 1302 refusals per call, at most
LIMIT_KEY = "channel_parser_concurrency_limit"


def _run_backlog(
    tmp_path: Path,
    settings: Settings,
    env_store: dict[str, str],
    posts: int,
    *,
    reaches_the_limit: bool,
) -> None:
    """Store *posts*, let three workers parse them, check each parsed exactly once.

    *reaches_the_limit*: the store claims fast enough for the workers to meet the
    provider's limit, so the limiters must have learned it."""
    asyncio.run(store_posts(settings, 0, posts))
    with simulator(tmp_path, limit=LIMIT, latency_ms=LATENCY_MS) as sim:
        ports = [free_port() for _ in range(WORKERS)]
        workers: list[subprocess.Popen[str]] = []
        peak_limits = 0.0
        started = time.monotonic()
        try:
            for n, port in enumerate(ports):
                env = service_env(sim, METRICS_PORT=str(port), LOG_LEVEL="WARNING", **env_store)
                with (tmp_path / f"worker{n}.log").open("w") as log:
                    workers.append(
                        subprocess.Popen(
                            [*CLI, "run", "--no-listener"],
                            env=env,
                            cwd=tmp_path,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            text=True,
                        )
                    )
            deadline = started + 150
            finished = False
            while time.monotonic() < deadline and not finished:
                time.sleep(0.25)
                samples = [scrape(p) for p in ports]
                peak_limits = max(peak_limits, sum(s.get(LIMIT_KEY, 0.0) for s in samples))
                done = sum(
                    s.get('channel_parser_messages_finished_total{status="done"}', 0.0)
                    for s in samples
                )
                finished = done >= posts
                assert all(w.poll() is None for w in workers), "a worker exited"
            elapsed = time.monotonic() - started
            final_limits = [scrape(p).get(LIMIT_KEY, 0.0) for p in ports]
        finally:
            for worker in workers:
                stop(worker)
        stats = simulator_stats(sim)

    for n, worker in enumerate(workers):
        log = (tmp_path / f"worker{n}.log").read_text()
        assert worker.returncode == 0, log[-2000:]
        assert "Traceback" not in log, log[-2000:]
    stored = asyncio.run(statuses(settings))
    assert sum(stored.values()) == posts  # one document per post, none lost
    assert max(stored.values()) == 1
    assert Counter(status for _, status in stored) == {MessageStatus.DONE: posts}
    by_text = stats["successes_by_text"]
    assert len(by_text) == posts and set(by_text.values()) == {1}, "a post parsed twice"
    assert len({post_text(i) for i in range(posts)}) == posts
    refused = stats["rejections"].get("1302", 0)
    print(
        f"\n{posts} posts, {WORKERS} workers, limit {LIMIT}, {LATENCY_MS} ms: "
        f"{elapsed:.1f} s ({posts / elapsed:.1f} posts/s; ideal {LIMIT * 1000 / LATENCY_MS:.0f}); "
        f"calls {stats['total_calls']}, peak in flight {stats['peak_in_flight']}, "
        f"1302 refusals {refused}, the learned limit each worker saw at the end "
        f"{final_limits} (peak of their sum {peak_limits:.0f})"
    )
    assert stats["peak_in_flight"] <= LIMIT  # admitted calls: the provider's load
    assert refused <= MAX_REFUSED_SHARE * stats["total_calls"], stats["rejections"]
    assert set(stats["rejections"]) <= {"1302"}, stats["rejections"]
    if reaches_the_limit:
        assert refused > 0  # the provider's limit was met: the limiter was tested
        # One learned limit for all: the provider's, or one above it while probing.
        assert max(final_limits) - min(final_limits) <= 1, final_limits
        assert min(final_limits) >= LIMIT - 1 and max(final_limits) <= LIMIT + 1, final_limits


def test_three_workers_share_mongodb_and_parse_each_post_once(
    tmp_path: Path, mongo_uri: str, mongo_database: str
) -> None:
    settings = scale_support.mongo_settings(mongo_uri, mongo_database)
    _run_backlog(
        tmp_path,
        settings,
        {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": mongo_database},
        MONGO_POSTS,
        reaches_the_limit=False,  # FerretDB's claims, not the provider, are the bottleneck
    )


def test_three_workers_share_one_sqlite_file_and_parse_each_post_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    settings = scale_support.sqlite_settings(path)
    _run_backlog(
        tmp_path, settings, {"SQLITE_PATH": str(path)}, SQLITE_POSTS, reaches_the_limit=True
    )
