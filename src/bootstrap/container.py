"""The composition root: every port bound to its adapter, every use case built."""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar, cast

from dependency_injector import containers, providers

from channel_parser.adapters.clock.system import SystemClock
from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.adapters.notify.console import ConsoleNotifier
from channel_parser.adapters.notify.telegram_bot import TelegramBotNotifier
from channel_parser.application.config import EngineConfig
from channel_parser.application.engine import Engine
from channel_parser.application.limiter import AdaptiveLimiter
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.notify import AdminNotifier
from channel_parser.application.ports.storage import (
    ChannelRegistry,
    MessageRepository,
    ParseCache,
    ServiceState,
)
from channel_parser.application.use_cases.claim_message import ClaimMessage
from channel_parser.application.use_cases.get_status import GetStatus
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.probe_quota import ProbeQuota
from channel_parser.application.use_cases.process_message import ProcessMessage
from channel_parser.application.use_cases.recover_stuck import RecoverStuck
from channel_parser.application.use_cases.requeue import RequeueMessages, ResetMessage
from channel_parser.application.use_cases.resume_parsing import ResumeParsing
from channel_parser.bootstrap.app import run_async
from channel_parser.bootstrap.logs import configure_logging
from channel_parser.bootstrap.settings import Settings, load_settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.throttle import DEFAULT_INTERVALS, NotificationThrottle

T = TypeVar("T")


async def resolve(provider: providers.Provider[T]) -> T:
    """The provider's object, awaited when it depends on an async resource."""
    value = provider()
    if inspect.isawaitable(value):
        return cast(T, await value)
    return value


def engine_config(settings: Settings) -> EngineConfig:
    intervals = dict(DEFAULT_INTERVALS)
    intervals[NotificationKind.QUOTA_EXHAUSTED] = timedelta(
        seconds=settings.notify_quota_interval_seconds
    )
    intervals[NotificationKind.RATE_LIMITED] = timedelta(
        seconds=settings.notify_rate_interval_seconds
    )
    return EngineConfig(
        backoff=BackoffPolicy(
            base=timedelta(seconds=settings.backoff_base_seconds),
            factor=settings.backoff_factor,
            cap=timedelta(seconds=settings.backoff_cap_seconds),
            jitter=settings.backoff_jitter,
        ),
        throttle=NotificationThrottle(intervals),
        lease=timedelta(seconds=settings.lease_seconds),
        poll_interval=timedelta(seconds=settings.poll_seconds),
        stuck_check_interval=timedelta(seconds=settings.stuck_check_seconds),
        quota_probe_interval=timedelta(seconds=settings.quota_probe_seconds),
    )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def _stores(settings: Settings) -> AsyncIterator[Stores]:
    async with open_storage(settings) as stores:
        yield stores


async def _parser(settings: Settings, clock: Clock) -> AsyncIterator[OpenAICompatibleParser]:
    parser = OpenAICompatibleParser.from_settings(settings, now=clock.now)
    try:
        yield parser
    finally:
        await parser.aclose()


async def _notifier(settings: Settings, clock: Clock) -> AsyncIterator[AdminNotifier]:
    if settings.admin_bot_token is None or not settings.admin_chat_ids:
        yield ConsoleNotifier()
        return
    bot = TelegramBotNotifier(
        settings.admin_bot_token.get_secret_value(),
        settings.admin_chat_ids,
        clock,
        api_base=settings.admin_bot_api_base,
    )
    try:
        yield bot
    finally:
        await bot.aclose()


async def _limiter(settings: Settings, state: ServiceState) -> AdaptiveLimiter:
    learned = await state.learned_limit()
    start = learned if learned is not None else float(settings.concurrency_start)
    return AdaptiveLimiter(
        ConcurrencyLimit(
            limit=start, min_limit=settings.concurrency_min, max_limit=settings.concurrency_max
        )
    )


def _messages(stores: Stores) -> MessageRepository:
    return stores.messages


def _cache(stores: Stores) -> ParseCache:
    return stores.cache


def _channels(stores: Stores) -> ChannelRegistry:
    return stores.channels


def _state(stores: Stores) -> ServiceState:
    return stores.state


class Container(containers.DeclarativeContainer):
    """Core (settings, clock, metrics), gateways (store, LLM, notifier), services."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(PrometheusMetrics)
    owner = providers.Singleton(worker_id)
    config = providers.Singleton(engine_config, settings)

    stores = providers.Resource(_stores, settings)
    messages = providers.Callable(_messages, stores)
    cache = providers.Callable(_cache, stores)
    channels = providers.Callable(_channels, stores)
    state = providers.Callable(_state, stores)
    parser = providers.Resource(_parser, settings, clock)
    notifier = providers.Resource(_notifier, settings, clock)

    notify = providers.Singleton(
        NotifyAdmins, state, notifier, config.provided.throttle, clock, metrics
    )
    resume = providers.Singleton(ResumeParsing, messages, state, notify, clock, metrics)
    requeue = providers.Singleton(RequeueMessages, messages, clock)
    reset = providers.Singleton(ResetMessage, messages, clock)
    status = providers.Singleton(GetStatus, messages, channels, state, clock)
    limiter = providers.Resource(_limiter, settings, state)
    engine = providers.Singleton(
        Engine,
        claim=providers.Singleton(ClaimMessage, messages, channels, state, clock, config),
        process=providers.Singleton(
            ProcessMessage, messages, cache, parser, state, notify, clock, metrics, config
        ),
        recover=providers.Singleton(RecoverStuck, messages, clock),
        probe=providers.Singleton(ProbeQuota, parser, state, notify, resume, clock, config, owner),
        messages=messages,
        state=state,
        limiter=limiter,
        notify=notify,
        clock=clock,
        metrics=metrics,
        config=config,
        owner=owner,
    )
    ingest = providers.Singleton(IngestPost, messages, clock, engine.provided.wake)


async def shutdown(container: Container) -> None:
    """Close every resource the container opened (none opened: nothing to await)."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):
        await closing


def run_with_container(use: Callable[[Container], Awaitable[T]]) -> T:
    """Load the settings, build the container, run *use* and close every resource.
    Bad settings and an unreachable store end in one line (see bootstrap.app)."""

    async def main() -> T:
        settings = load_settings()
        configure_logging(settings)
        container = Container(settings=settings)
        try:
            result = await use(container)
        except BaseException:
            # Report the first error (a bad LLM_SCHEMA_FILE, say), not one that closing
            # half-built resources raises after it (e.g. "the SQLite database is not open").
            with contextlib.suppress(Exception):
                await shutdown(container)
            raise
        await shutdown(container)
        return result

    return run_async(main())
