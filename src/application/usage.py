"""Where what LLM calls cost goes besides the post: the service's ledger and the metrics."""

from __future__ import annotations

import logging

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import ServiceState
from channel_parser.domain.usage import LLMUsage

log = logging.getLogger(__name__)


class UsageRecorder:
    """Counts every call's usage (parses, repairs, refused calls, quota probes) in the
    ledger that ``status`` sums, and in the Prometheus counters. Bookkeeping: a store that
    fails here is logged, never raised (the post's own record was saved already)."""

    def __init__(self, state: ServiceState, clock: Clock, metrics: Metrics) -> None:
        self._state = state
        self._clock = clock
        self._metrics = metrics

    async def __call__(self, usage: LLMUsage) -> None:
        if usage.is_zero:
            return
        self._metrics.llm_usage(usage)
        try:
            await self._state.add_usage(self._clock.now(), usage)
        except StorageError as exc:
            log.warning("could not add %d tokens to the usage ledger: %s", usage.total_tokens, exc)
