"""The demo: the main job on the embedded default, against the built-in Z.AI simulator.

SQLite in a temporary folder; a simulator with a small hidden concurrency limit and a
balance that runs out midway and is topped up; the bundled sample export. Every
time in SPEC.md is scaled down 30× so that it finishes in well under a minute:
backoff 1, 2, 4, 8, 16 s (SPEC: 30 … 480 s), throttles 10 s and 30 s (SPEC: 5 and 15 min).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
from dependency_injector import providers
from dependency_injector.wiring import Provide, inject
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.adapters.notify.console import ConsoleNotifier
from channel_parser.adapters.telegram.export import read_export
from channel_parser.application.deliveries import Deliveries
from channel_parser.application.engine import Engine
from channel_parser.application.limiter import AdaptiveLimiter
from channel_parser.application.ports.storage import (
    MessageFilter,
    MessageRepository,
    MessageStats,
    ServiceState,
)
from channel_parser.application.use_cases.import_posts import ExportItem, ImportPosts, ImportSummary
from channel_parser.application.use_cases.show_message import ShowMessage
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.demo import SAMPLE_EXPORT
from channel_parser.bootstrap.records import record
from channel_parser.bootstrap.runner import run_in
from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage
from channel_parser.simulator.config import Latency, SimulatorConfig
from channel_parser.simulator.server import ZaiSimulator

SCALE = 30  # SPEC.md's times divided by this
TOP_UP_AFTER = 3.0  # seconds after the balance runs out, "the operator tops it up"


@attrs.frozen
class DemoResult:
    imported: ImportSummary
    stats: MessageStats
    refusals: dict[str, int]  # provider code -> count, as the simulator saw them
    peak_in_flight: int
    learned_limit: int
    notifications_sent: int
    notifications_suppressed: int
    seconds: float
    usage: LLMUsage  # what every call cost, as the usage ledger counted it
    example: dict[str, Any] | None  # one parsed post, as `show --json` prints it


def demo_settings(workdir: Path, base_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_uri=None,
        sqlite_path=workdir / "demo.sqlite3",
        llm_provider="compatible",
        llm_base_url=base_url,
        llm_model="glm-4.6",
        llm_api_key=SecretStr("demo-key-not-secret"),
        llm_timeout=10,
        llm_thinking="disabled",  # as the Z.AI presets send it
        backoff_base_seconds=30 / SCALE,
        backoff_cap_seconds=480 / SCALE,
        notify_quota_interval_seconds=15 * 60 / SCALE,
        notify_rate_interval_seconds=5 * 60 / SCALE,
        quota_probe_seconds=60 / SCALE,
        poll_seconds=0.5,
        lease_seconds=20,
        stuck_check_seconds=5,
        concurrency_start=2,
        concurrency_max=16,
        admin_bot_token=None,
        metrics_port=0,
    )


def simulator_config(posts: int) -> SimulatorConfig:
    return SimulatorConfig(
        concurrency_limit=4,
        latency=Latency(ms=150, jitter_ms=100, distribution="uniform"),
        balance=max(posts // 2, 1),  # runs out about midway
        seed=7,
    )


async def run_demo(console: Console, workdir: Path, export: Path = SAMPLE_EXPORT) -> DemoResult:
    started = time.monotonic()
    contents = read_export(export)
    posts = sum(1 for item in contents.items if not hasattr(item, "reason"))
    async with ZaiSimulator(simulator_config(posts)) as sim:
        container = Container(settings=demo_settings(workdir, sim.base_url))
        metrics = PrometheusMetrics()
        container.metrics.override(providers.Object(metrics))
        container.notifier.override(providers.Object(ConsoleNotifier(console)))
        console.print(
            f"[bold]channel-parser demo[/bold]: {posts} posts from {export.name}, "
            f"SQLite in {workdir}, a Z.AI simulator at {sim.base_url} "
            f"(hidden concurrency limit 4, balance {sim.config.balance} calls)."
        )
        console.print(
            f"Times are those of docs/SPEC.md divided by {SCALE}: backoff 1, 2, 4 … 16 s.\n"
        )
        imported, stats, learned, usage, example = await run_in(
            container, _import_and_parse, console, contents.items, lambda: sim.top_up(posts)
        )
        seen = sim.stats()
    return DemoResult(
        imported=imported,
        stats=stats,
        refusals=dict(seen.rejections),
        peak_in_flight=seen.peak_in_flight,
        learned_limit=learned,
        notifications_sent=_count(metrics, "sent"),
        notifications_suppressed=_count(metrics, "suppressed"),
        seconds=time.monotonic() - started,
        usage=usage,
        example=example,
    )


@inject
async def _import_and_parse(
    console: Console,
    items: list[ExportItem],
    top_up: Callable[[], object],
    import_posts: ImportPosts = Provide["import_posts"],
    engine: Engine = Provide["engine"],
    messages: MessageRepository = Provide["messages"],
    state: ServiceState = Provide["state"],
    limiter: AdaptiveLimiter = Provide["limiter"],
    show: ShowMessage = Provide["show"],
    deliveries: Deliveries = Provide["deliveries"],
) -> tuple[ImportSummary, MessageStats, int, LLMUsage, dict[str, Any] | None]:
    imported = await import_posts(items)
    worker = asyncio.create_task(engine.run())
    delivering = asyncio.create_task(deliveries.run())  # the notifications, beside parsing
    await _watch(console, messages, state, limiter, top_up, imported.stored)
    engine.stop()
    await worker
    delivering.cancel()
    await asyncio.gather(delivering, return_exceptions=True)
    await deliveries.drain(timedelta(seconds=5))
    example = await _one_parsed_post(messages, show)
    usage = await state.usage_since()
    return imported, await messages.stats(), limiter.limit.permits, usage, example


async def _one_parsed_post(messages: MessageRepository, show: ShowMessage) -> dict[str, Any] | None:
    """The first post the LLM parsed itself (not a repost answered from the cache)."""
    async for message in messages.iter_matching(MessageFilter(MessageStatus.DONE)):
        if not message.from_cache and message.result:
            shown = await show(MessageKey(message.channel_id, message.message_id))
            return None if shown is None else record(shown)
    return None


async def _watch(
    console: Console,
    messages: MessageRepository,
    state: ServiceState,
    limiter: AdaptiveLimiter,
    top_up: Callable[[], object],
    total: int,
) -> None:
    """Show progress until nothing waits; top the balance up when it runs out."""
    topped_up_at: float | None = None
    empty_since: float | None = None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[line]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("parsing", total=total, line="")
        while True:
            await asyncio.sleep(0.2)
            stats = await messages.stats()
            gate = await state.quota_gate()
            by = stats.by_status
            waiting = by[MessageStatus.PENDING] + by[MessageStatus.RETRY]
            line = (
                f"retry {by[MessageStatus.RETRY]} · error {by[MessageStatus.ERROR]} · "
                f"limit {limiter.limit.permits} · gate {gate.state}"
            )
            progress.update(task, completed=by[MessageStatus.DONE], line=line)
            if not gate.is_open and topped_up_at is None:
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since >= TOP_UP_AFTER:
                    top_up()
                    topped_up_at = time.monotonic()
                    console.print("[green]the operator tops the balance up[/green]")
            if gate.is_open and waiting == 0 and by[MessageStatus.PROCESSING] == 0:
                return


def _count(metrics: PrometheusMetrics, result: str) -> int:
    total = 0.0
    for metric in metrics.notifications.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("result") == result:
                total += sample.value
    return int(total)
