"""Latency of a new post on an idle service, next to a bare call to the same provider.

The engine runs idle on a fresh SQLite store; a post is ingested in the same process
(the worker is woken by an event, not a poll) and timed until it is stored as done.
Beside it, the same number of bare SDK calls to the same simulator, in the same run.
Printed: medians and the ratio, and the overhead in milliseconds.

    python bench/latency.py [--posts 30] [--latency-ms 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dependency_injector import providers

sys.path.insert(0, str(Path(__file__).parent))
from throughput import QuietNotifier, Simulator, _settings

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.llm.prompting import load_prompt_spec
from channel_parser.adapters.llm.providers import resolve_provider
from channel_parser.application.ports.llm import ParseRequest
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus

CHANNEL = -1004444444444


async def bare(sim: Simulator, posts: int) -> list[float]:
    parser = OpenAICompatibleParser(
        resolve_provider("zai", sim.base_url, None, "k"), load_prompt_spec(None, None)
    )
    times = []
    async with parser:
        for i in range(posts):
            started = time.perf_counter()
            await parser.parse(ParseRequest(f"Голый вызов {i}: вакансия"))
            times.append(time.perf_counter() - started)
    return times


async def engine_latency(sim: Simulator, posts: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        container = Container(settings=_settings(Path(tmp), sim.base_url, 30))
        container.notifier.override(providers.Object(QuietNotifier()))
        try:
            ingest = await container.ingest.async_()
            messages = await container.messages.async_()
            engine = await container.engine.async_()
            worker = asyncio.create_task(engine.run())
            await asyncio.sleep(0.5)  # idle
            for i in range(posts):
                key = MessageKey(CHANNEL, i)
                started = time.perf_counter()
                await ingest(NewPost(CHANNEL, i, f"Новый пост {i}: вакансия"))
                while True:
                    message = await messages.get(key)
                    if message is not None and message.status is MessageStatus.DONE:
                        break
                    await asyncio.sleep(0.001)
                times.append(time.perf_counter() - started)
                await asyncio.sleep(0.2)  # idle again
            engine.stop()
            await worker
        finally:
            await shutdown(container)
    return times


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sim = Simulator(limit=8, latency_ms=args.latency_ms)
    try:
        bare_times = await bare(sim, args.posts)
        engine_times = await engine_latency(sim, args.posts)
    finally:
        sim.close()
    bare_median = statistics.median(bare_times)
    engine_median = statistics.median(engine_times)
    return {
        "provider_latency_ms": args.latency_ms,
        "posts": args.posts,
        "bare_call_median_ms": round(bare_median * 1000, 1),
        "new_post_to_done_median_ms": round(engine_median * 1000, 1),
        "new_post_to_done_p90_ms": round(statistics.quantiles(engine_times, n=10)[-1] * 1000, 1),
        "overhead_median_ms": round((engine_median - bare_median) * 1000, 1),
        "ratio_to_bare": round(engine_median / bare_median, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<30}{value}")
