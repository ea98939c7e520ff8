"""Throughput under a provider with a hidden concurrency limit, adaptive vs SPEC-only.

Against the Z.AI simulator (hidden concurrency limit L, latency d), a backlog of posts
is parsed twice in one run, each time on a fresh SQLite store through the real openai
SDK over HTTP:

- adaptive: the engine as shipped (the AIMD limiter learns L from the 1302s);
- baseline: what SPEC.md alone asks for: a fixed pool of 32 concurrent calls, and the
  exponential backoff on every 1302.

SPEC.md's backoff (30 s base, 480 s cap) is scaled down by --scale for both runs so
that a run takes a minute, not hours; the ratio of the two is what matters. Printed:
throughput as a share of the ideal L/d, and the share of calls refused with 1302.

    python bench/throughput.py [--posts 2000] [--limit 8] [--latency-ms 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dependency_injector import providers
from pydantic import SecretStr

from adapters.llm.simulator import ZaiSimulator
from adapters.llm.simulator_config import Latency, SimulatorConfig
from application.limiter import AdaptiveLimiter
from application.ports.storage import NewPost
from bootstrap.container import Container, resolve
from bootstrap.settings import Settings
from domain.concurrency import ConcurrencyLimit
from domain.status import MessageStatus

CHANNEL = -1003333333333
BASELINE_POOL = 32


class QuietNotifier:
    """The admins are not the subject here."""

    async def send(self, text: str) -> bool:
        return True


def _settings(workdir: Path, base_url: str, scale: float) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        sqlite_path=workdir / "bench.sqlite3",
        llm_provider="zai",
        llm_base_url=base_url,
        llm_api_key=SecretStr("bench-key"),
        backoff_base_seconds=30 / scale,
        backoff_cap_seconds=480 / scale,
        poll_seconds=0.05,
        concurrency_start=4,
        concurrency_max=BASELINE_POOL,
        metrics_port=0,
    )


async def run_once(
    mode: str, posts: int, limit: int, latency_ms: float, scale: float
) -> dict[str, Any]:
    config = SimulatorConfig(concurrency_limit=limit, latency=Latency(ms=latency_ms), seed=1)
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as tmp:
        async with ZaiSimulator(config) as sim:
            container = Container(settings=_settings(Path(tmp), sim.base_url, scale))
            container.notifier.override(providers.Object(QuietNotifier()))
            if mode == "baseline":
                fixed = ConcurrencyLimit(
                    limit=BASELINE_POOL, min_limit=BASELINE_POOL, max_limit=BASELINE_POOL
                )
                container.limiter.override(providers.Object(AdaptiveLimiter(fixed, adaptive=False)))
            try:
                ingest = await resolve(container.ingest)
                for i in range(posts):  # distinct texts: no cache hits
                    await ingest(NewPost(CHANNEL, i, f"Пост {i}: объявление о работе номер {i}"))
                messages = await resolve(container.messages)
                engine = await resolve(container.engine)
                sim.reset_stats()
                started = time.monotonic()
                worker = asyncio.create_task(engine.run())
                while True:
                    await asyncio.sleep(0.05)
                    stats = await messages.stats()
                    if stats.by_status[MessageStatus.DONE] == posts:
                        break
                elapsed = time.monotonic() - started
                engine.stop()
                await worker
                limiter = await resolve(container.limiter)
                seen = sim.stats()
            finally:
                await container.shutdown_resources()  # type: ignore[misc]
    ideal = limit / (latency_ms / 1000)
    refused = seen.rejections.get("1302", 0)
    return {
        "mode": mode,
        "posts": posts,
        "seconds": round(elapsed, 2),
        "posts_per_second": round(posts / elapsed, 2),
        "share_of_ideal": round(posts / elapsed / ideal, 3),
        "calls": seen.total_calls,
        "refused_1302": refused,
        "refused_share": round(refused / max(seen.total_calls, 1), 4),
        "peak_in_flight": seen.peak_in_flight,
        "final_limit": limiter.limit.permits,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for mode in ("adaptive", "baseline"):
        runs.append(await run_once(mode, args.posts, args.limit, args.latency_ms, args.scale))
    adaptive, baseline = runs
    return {
        "provider": {"hidden_concurrency_limit": args.limit, "latency_ms": args.latency_ms},
        "ideal_posts_per_second": args.limit / (args.latency_ms / 1000),
        "backoff_scale": f"SPEC's 30 s base and 480 s cap divided by {args.scale:g}",
        "adaptive": adaptive,
        "baseline_fixed_pool_32": baseline,
        "adaptive_vs_baseline_throughput": round(
            adaptive["posts_per_second"] / baseline["posts_per_second"], 2
        ),
        "goal_met": adaptive["share_of_ideal"] >= 0.90 and adaptive["refused_share"] <= 0.01,
    }


def _print(result: dict[str, Any]) -> None:
    print(
        f"provider: hidden limit {result['provider']['hidden_concurrency_limit']}, latency "
        f"{result['provider']['latency_ms']:g} ms -> ideal {result['ideal_posts_per_second']:g} "
        f"posts/s; backoff: {result['backoff_scale']}"
    )
    header = f"{'run':<26}{'posts/s':>9}{'of ideal':>10}{'refused':>9}{'peak':>6}{'limit':>7}"
    print(header)
    for key in ("adaptive", "baseline_fixed_pool_32"):
        r = result[key]
        print(
            f"{key:<26}{r['posts_per_second']:>9.1f}{r['share_of_ideal']:>10.1%}"
            f"{r['refused_share']:>9.2%}{r['peak_in_flight']:>6}{r['final_limit']:>7}"
        )
    print(f"adaptive / baseline throughput: {result['adaptive_vs_baseline_throughput']:.2f}x")
    print(f"goal (>= 90 % of ideal, <= 1 % refused): {'met' if result['goal_met'] else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    if arguments.json:
        json.dump(outcome, sys.stdout, indent=2)
        print()
    else:
        _print(outcome)
