"""The composition root: every object the commands and the service run, as a provider.

Core (settings, clock, metrics, the engine's tunables), gateways (the store, the LLM,
the admin notifier, the Telegram client: async resources opened on first use and closed
by ``shutdown_resources``), then the use cases, the engine and the service's parts.
Entry points receive built objects (``@inject`` with ``Provide[...]``, or
``provider.async_()``); tests override the gateways, the clock and the metrics.
Heavy drivers are imported inside the gateway functions, so that building the
container imports none of them.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from channel_parser.adapters.clock.system import SystemClock
from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.application.channel_directory import ChannelDirectory
from channel_parser.application.config import EngineConfig
from channel_parser.application.deliveries import ADMIN_TOPIC, Deliveries
from channel_parser.application.engine import Engine
from channel_parser.application.limiter import AdaptiveLimiter, LimiterConfig
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.notify import NotificationSender
from channel_parser.application.ports.storage import ServiceState
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.usage import UsageRecorder
from channel_parser.application.use_cases.channel_availability import RecordChannelAvailability
from channel_parser.application.use_cases.claim_message import ClaimMessage
from channel_parser.application.use_cases.export_results import ExportResults
from channel_parser.application.use_cases.find_channel import FindChannel
from channel_parser.application.use_cases.flood_wait import TellFloodWait
from channel_parser.application.use_cases.get_status import GetStatus
from channel_parser.application.use_cases.import_posts import ImportPosts
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.application.use_cases.listener_lease import ListenerLease
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.probe_quota import ProbeQuota
from channel_parser.application.use_cases.process_message import ProcessMessage
from channel_parser.application.use_cases.queue_results import QueueResults
from channel_parser.application.use_cases.recover_stuck import RecoverStuck
from channel_parser.application.use_cases.requeue import RequeueMessages, ResetMessage
from channel_parser.application.use_cases.resume_parsing import ResumeParsing
from channel_parser.application.use_cases.show_message import ShowMessage
from channel_parser.bootstrap.config_file import load_config_file
from channel_parser.bootstrap.delivery import all_senders, make_routes
from channel_parser.bootstrap.profiles import parser_profiles
from channel_parser.bootstrap.service import HealthCheck, Service
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EDITS_REPARSED, EditRule
from channel_parser.domain.throttle import DEFAULT_INTERVALS, NotificationThrottle
from channel_parser.domain.usage import TokenPrices

if TYPE_CHECKING:
    from channel_parser.adapters.http.monitoring import MonitoringServer
    from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
    from channel_parser.adapters.llm.profiles import LoadedProfiles
    from channel_parser.adapters.telegram.listener import TelegramListener


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
        internal_error_limit=settings.internal_error_limit,
    )


def edit_rule(settings: Settings) -> EditRule:
    """REPARSE_EDITS: an edit of a parsed post queues it again, or is kept out."""
    return EDITS_REPARSED if settings.reparse_edits else EDITS_IN_PLACE


def token_prices(settings: Settings) -> TokenPrices | None:
    """LLM_PRICE_INPUT_PER_MTOK / LLM_PRICE_OUTPUT_PER_MTOK (set together, or neither)."""
    if settings.llm_price_input_per_mtok is None or settings.llm_price_output_per_mtok is None:
        return None
    return TokenPrices(settings.llm_price_input_per_mtok, settings.llm_price_output_per_mtok)


def make_limiter_config(settings: Settings) -> LimiterConfig:
    return LimiterConfig(lease=timedelta(seconds=settings.concurrency_lease_seconds))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# -- gateways: async resources -------------------------------------------------------


async def open_stores(settings: Settings) -> AsyncIterator[Stores]:
    async with open_storage(settings) as opened:
        yield opened


async def open_parser(
    settings: Settings, clock: Clock, profiles: LoadedProfiles
) -> AsyncIterator[OpenAICompatibleParser]:
    from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser

    parser = OpenAICompatibleParser.from_settings(settings, now=clock.now, profiles=profiles)
    try:
        yield parser
    finally:
        await parser.aclose()


async def open_notifier(settings: Settings) -> AsyncIterator[NotificationSender]:
    """The admins' notifications go through the bot when it is configured, else to stderr."""
    from channel_parser.adapters.notify.console import ConsoleNotifier
    from channel_parser.adapters.notify.telegram_bot import TelegramBotNotifier

    if settings.admin_bot_token is None or not settings.admin_chat_ids:
        yield ConsoleNotifier()
        return
    bot = TelegramBotNotifier(
        settings.admin_bot_token.get_secret_value(),
        settings.admin_chat_ids,
        api_base=settings.admin_bot_api_base,
    )
    try:
        yield bot
    finally:
        await bot.aclose()


async def starting_limit(settings: Settings, state: ServiceState) -> ConcurrencyLimit:
    """Where the limit starts: the one learned before (by any process), else the setting."""
    learned = await state.learned_limit()
    return ConcurrencyLimit(
        limit=learned if learned is not None else float(settings.concurrency_start),
        min_limit=settings.concurrency_min,
        max_limit=settings.concurrency_max,
    )


def make_telegram_client(settings: Settings) -> Any:
    """The Telethon client on the session `login` made (not connected). A missing session
    file or missing credentials are refused here, at start, with one line."""
    from channel_parser.adapters.telegram.client import open_client

    api_hash = settings.telegram_api_hash
    return open_client(
        settings.telegram_session,
        settings.telegram_api_id,
        api_hash.get_secret_value() if api_hash is not None else None,
    )


def check_listener_settings(settings: Settings) -> None:
    """Before anything is opened: the session file exists and every TELEGRAM_CHANNELS entry
    names a channel (each refused with one line, exit 2, nothing created)."""
    from channel_parser.adapters.telegram.channels import parse_channel_ref
    from channel_parser.adapters.telegram.client import require_session

    require_session(settings.telegram_session)
    for entry in settings.telegram_channels:
        parse_channel_ref(entry)


def make_post_source(
    settings: Settings,
    client: Any,
    ingest: IngestPost,
    stores: Stores,
    report: RecordChannelAvailability,
    tell_flood: TellFloodWait,
    clock: Clock,
) -> Any:
    from channel_parser.adapters.telegram.telethon_source import TelethonPostSource

    return TelethonPostSource(  # a bad TELEGRAM_CHANNELS entry is refused here, at start
        client,
        settings.telegram_channels,
        ingest,
        stores.messages,
        stores.channels,
        report,
        tell_flood,
        clock,
        backfill_seconds=settings.backfill_seconds,
        poll_seconds=settings.telegram_poll_seconds,
        initial_posts=settings.backfill_initial_posts,
        join=settings.telegram_join_channels,
    )


def make_telegram_listener(client: Any, source: Any, settings: Settings) -> TelegramListener:
    from channel_parser.adapters.telegram.listener import TelegramListener

    return TelegramListener(client, source, settings.telegram_session)


def listening(settings: Settings) -> str:
    """``live`` when Telegram is configured (the `run --no-listener` flag overrides it)."""
    configured = (
        settings.telegram_api_id and settings.telegram_api_hash and settings.telegram_channels
    )
    return "live" if configured else "off"


def make_monitoring(
    settings: Settings, metrics: PrometheusMetrics, health: HealthCheck
) -> MonitoringServer | None:
    from channel_parser.adapters.http.monitoring import MonitoringServer

    if not settings.metrics_port:
        return None
    return MonitoringServer(
        settings.metrics_host, settings.metrics_port, health=health, metrics=metrics.render
    )


class Container(containers.DeclarativeContainer):
    # -- core -------------------------------------------------------------------------
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(PrometheusMetrics)
    owner = providers.Singleton(worker_id)
    config = providers.Singleton(engine_config, settings)
    jitter = providers.Object(random.random)  # backoff jitter's random numbers
    wakeup = providers.Singleton(asyncio.Event)  # a stored post wakes the local worker
    edits = providers.Singleton(edit_rule, settings)
    prices = providers.Singleton(token_prices, settings)
    config_file = providers.Singleton(load_config_file, settings.provided.config_file)
    profiles = providers.Singleton(parser_profiles, settings, config_file)

    # -- gateways ---------------------------------------------------------------------
    stores = providers.Resource(open_stores, settings)
    messages = stores.provided.messages
    cache = stores.provided.cache
    channels = stores.provided.channels
    state = stores.provided.state
    outbox = stores.provided.outbox
    parser = providers.Resource(open_parser, settings, clock, profiles)
    notifier = providers.Resource(open_notifier, settings)  # the admins' NotificationSender

    # -- use cases --------------------------------------------------------------------
    routes = providers.Singleton(make_routes, settings, config_file)  # results delivered
    deliveries = providers.Singleton(
        Deliveries,
        outbox,
        state,
        providers.Callable(all_senders, ADMIN_TOPIC, notifier, routes),
        clock,
        metrics,
        owner,
    )
    notify = providers.Singleton(
        NotifyAdmins, state, deliveries, config.provided.throttle, clock, metrics
    )
    health = providers.Singleton(
        StorageHealth, notify, clock, metrics, config.provided.storage_retry_max
    )
    resume = providers.Singleton(ResumeParsing, messages, state, notify, clock, metrics)
    requeue = providers.Singleton(
        RequeueMessages, messages, clock, channels, profiles.provided.table
    )
    directory = providers.Singleton(ChannelDirectory, channels, clock)
    queue_results = providers.Singleton(
        QueueResults,
        routes.provided.routes,
        deliveries,
        directory,
        health,
        config.provided.storage_retry_max,
    )
    reset = providers.Singleton(ResetMessage, messages, clock)
    status = providers.Singleton(GetStatus, messages, channels, state, clock, outbox, prices=prices)
    export = providers.Singleton(ExportResults, messages, channels, clock)
    show = providers.Singleton(ShowMessage, messages, channels)
    find_channel = providers.Singleton(FindChannel, channels)
    usage = providers.Singleton(UsageRecorder, state, clock, metrics)
    ingest = providers.Singleton(IngestPost, messages, clock, wakeup.provided.set, edits=edits)
    import_posts = providers.Singleton(
        ImportPosts, messages, clock, wakeup.provided.set, edits=edits
    )
    claim = providers.Singleton(ClaimMessage, messages, channels, state, clock, config)
    process = providers.Singleton(
        ProcessMessage,
        messages,
        cache,
        parser,
        state,
        notify,
        clock,
        metrics,
        health,
        config,
        jitter_source=jitter,
        usage=usage,
        directory=directory,
        deliver=queue_results,
    )
    recover = providers.Singleton(RecoverStuck, messages, clock)
    probe = providers.Singleton(
        ProbeQuota, parser, state, notify, resume, clock, config, owner, usage=usage
    )

    # -- the engine -------------------------------------------------------------------
    limit = providers.Singleton(starting_limit, settings, state)
    adaptive = providers.Object(True)  # False: a fixed pool of `limit` (the benchmark's baseline)
    limiter_config = providers.Singleton(make_limiter_config, settings)
    limiter = providers.Singleton(
        AdaptiveLimiter,
        limit,
        state,
        metrics,
        clock,
        owner,
        limiter_config,
        adaptive=adaptive,
    )
    engine = providers.Singleton(
        Engine,
        claim=claim,
        process=process,
        recover=recover,
        probe=probe,
        messages=messages,
        limiter=limiter,
        health=health,
        clock=clock,
        config=config,
        owner=owner,
        wakeup=wakeup,
    )

    # -- the service: Telegram in, monitoring, the engine -----------------------------
    telegram_client = providers.Singleton(make_telegram_client, settings)
    report_channel = providers.Singleton(RecordChannelAvailability, channels, notify, clock)
    tell_flood = providers.Singleton(TellFloodWait, notify, clock)
    post_source = providers.Singleton(
        make_post_source,
        settings,
        telegram_client,
        ingest,
        stores,
        report_channel,
        tell_flood,
        clock,
    )
    listener_lease = providers.Singleton(
        ListenerLease, state, clock, account=settings.provided.telegram_session.stem, owner=owner
    )
    listener = providers.Selector(
        providers.Callable(listening, settings),
        live=providers.Singleton(make_telegram_listener, telegram_client, post_source, settings),
        off=providers.Object(None),
    )
    health_check = providers.Singleton(HealthCheck, health, engine)
    monitoring = providers.Singleton(make_monitoring, settings, metrics, health_check)
    service = providers.Singleton(
        Service,
        engine=engine,
        status=status,
        metrics=metrics,
        monitoring=monitoring,
        listener=listener,
        lease=listener_lease,
        deliveries=deliveries,
        sender=notifier,
    )
