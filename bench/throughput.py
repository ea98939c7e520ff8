"""Throughput under a provider with a hidden concurrency limit, adaptive vs SPEC-only.

Against the Z.AI simulator (hidden concurrency limit L, latency d), a backlog of posts
is parsed twice in one run, each time on a fresh SQLite store through the real openai
SDK over HTTP:

- adaptive: the engine as shipped (the AIMD limiter learns L from the 1302s);
- baseline: what SPEC.md alone asks for: a fixed pool of 32 concurrent calls, and the
  exponential backoff on every 1302.

A third run, "bare client", is L tasks calling the provider in a loop with the same SDK
and no store at all: what this machine can do at best, printed for reference.

SPEC.md's backoff (30 s base, 480 s cap) is scaled down by --scale for both runs so
that a run takes a minute, not hours; the ratio of the two is what matters. Printed:
throughput as a share of the ideal L/d, and the share of calls refused with 1302.

    python bench/throughput.py [--posts 2000] [--limit 8] [--latency-ms 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from dependency_injector import providers
from pydantic import SecretStr

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.llm.prompting import load_prompt_spec
from channel_parser.adapters.llm.providers import resolve_provider
from channel_parser.application.ports.llm import ParseRequest
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.status import MessageStatus
from channel_parser.simulator.server import API_PATH

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


class Simulator:
    """`channel-parser simulate-zai` in a process of its own."""

    def __init__(self, limit: int, latency_ms: float) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root + API_PATH
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "channel_parser.bootstrap.cli",
                "simulate-zai",
                "--port",
                str(self.port),
                "--concurrency-limit",
                str(limit),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        if "listening" not in self._proc.stdout.readline():
            raise RuntimeError("the simulator did not start")

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def close(self) -> None:
        self._proc.send_signal(signal.SIGINT)
        self._proc.communicate(timeout=15)


def _report(
    mode: str,
    posts: int,
    elapsed: float,
    seen: dict[str, Any],
    ideal: float,
    final_limit: int | None,
) -> dict[str, Any]:
    refused = seen["rejections"].get("1302", 0)
    return {
        "mode": mode,
        "posts": posts,
        "seconds": round(elapsed, 2),
        "posts_per_second": round(posts / elapsed, 2),
        "share_of_ideal": round(posts / elapsed / ideal, 3),
        "calls": seen["total_calls"],
        "refused_1302": refused,
        "refused_share": round(refused / max(seen["total_calls"], 1), 4),
        "peak_in_flight": seen["peak_in_flight"],
        "final_limit": final_limit,
    }


async def run_bare(sim: Simulator, posts: int, limit: int, ideal: float) -> dict[str, Any]:
    """L tasks calling the provider in a loop, nothing stored: this machine's ceiling."""
    spec = load_prompt_spec(None, None)
    parser = OpenAICompatibleParser(resolve_provider("zai", sim.base_url, None, "k"), spec)
    texts = iter(range(posts))
    sim.admin("/admin/reset", {})

    async def loop() -> None:
        for i in texts:
            await parser.parse(ParseRequest(f"Пост {i}: объявление о работе номер {i}"))

    started = time.monotonic()
    async with parser:
        await asyncio.gather(*(loop() for _ in range(limit)))
    return _report(
        "bare", posts, time.monotonic() - started, sim.admin("/admin/stats"), ideal, limit
    )


async def run_engine(
    mode: str, sim: Simulator, posts: int, scale: float, ideal: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as tmp:
        container = Container(settings=_settings(Path(tmp), sim.base_url, scale))
        container.notifier.override(providers.Object(QuietNotifier()))
        if mode == "baseline":
            fixed = ConcurrencyLimit(
                limit=BASELINE_POOL, min_limit=BASELINE_POOL, max_limit=BASELINE_POOL
            )
            container.limit.override(providers.Object(fixed))
            container.adaptive.override(providers.Object(False))
        try:
            ingest = await container.ingest.async_()
            for i in range(posts):  # distinct texts: no cache hits
                await ingest(NewPost(CHANNEL, i, f"Пост {i}: объявление о работе номер {i}"))
            messages = await container.messages.async_()
            engine = await container.engine.async_()
            sim.admin("/admin/reset", {})
            started = time.monotonic()
            worker = asyncio.create_task(engine.run())
            while (await messages.stats()).by_status[MessageStatus.DONE] < posts:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            engine.stop()
            await worker
            limiter = await container.limiter.async_()
        finally:
            await shutdown(container)
    return _report(mode, posts, elapsed, sim.admin("/admin/stats"), ideal, limiter.limit.permits)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    ideal = args.limit / (args.latency_ms / 1000)
    sim = Simulator(args.limit, args.latency_ms)
    try:
        bare = await run_bare(sim, args.posts, args.limit, ideal)
        adaptive = await run_engine("adaptive", sim, args.posts, args.scale, ideal)
        baseline = await run_engine("baseline", sim, args.posts, args.scale, ideal)
    finally:
        sim.close()
    return {
        "provider": {"hidden_concurrency_limit": args.limit, "latency_ms": args.latency_ms},
        "ideal_posts_per_second": args.limit / (args.latency_ms / 1000),
        "backoff_scale": f"SPEC's 30 s base and 480 s cap divided by {args.scale:g}",
        "bare_client": bare,
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
    for key in ("bare_client", "adaptive", "baseline_fixed_pool_32"):
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
