"""Permits for concurrent LLM calls: one learned limit for every worker, shared through
the store (docs/adr/0012).

The store holds the learned limit and numbered permit slots (domain.permits). A worker
runs a call only on a slot it holds whose number is below the learned limit's permits, so
all workers' calls together stay within the limit the provider allows. A worker keeps its
slots while it has calls to make (a freed slot goes straight to the next call, no round
trip), renews them every third of their lease, and gives them back when they fall above
the limit or stay idle; a worker that dies loses them when their lease runs out.

Every call's outcome feeds the shared limit: a refusal cuts this worker's view at once,
and one task writes the outcomes to the store in batches (one transaction, or one read
and one compare-and-set, per batch), so that no call waits for the store. When the store
is slow or down, the worker keeps the slots it holds until their lease runs out, then
runs at most ``min_limit`` calls unshared, until the store answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import PermitView, ServiceState
from channel_parser.application.waiting import sleep_unless_woken
from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PENDING_OUTCOMES = 10_000  # lessons kept while the store does not answer


@attrs.frozen
class LimiterConfig:
    lease: timedelta = timedelta(seconds=10)  # a dead worker's slots come back after this
    idle: timedelta = timedelta(seconds=0.5)  # a slot unused this long is given back
    poll: timedelta = timedelta(seconds=0.5)  # asking for a slot when none was seen free
    timeout: timedelta = timedelta(seconds=2)  # the most a store operation may take
    retry: timedelta = timedelta(seconds=1)  # after a failed store operation
    learn_every: timedelta = timedelta(seconds=0.1)  # batches successes (refusals: at once)


@attrs.frozen
class Permit:
    """The right to one call: on a shared slot, or unshared (*slot* None) while the store
    does not answer."""

    slot: int | None


@attrs.frozen
class _Outcome:
    refused: bool
    in_use: int  # this worker's calls in flight when it ended, itself included
    at: datetime


class AdaptiveLimiter:
    def __init__(
        self,
        limit: ConcurrencyLimit,
        state: ServiceState,
        metrics: Metrics,
        clock: Clock,
        owner: str,
        config: LimiterConfig | None = None,
        *,
        adaptive: bool = True,
    ) -> None:
        self._policy = limit  # the bounds and pace; what is learned comes from the store
        self._limit = limit
        self._state = state
        self._metrics = metrics
        self._clock = clock
        self._owner = owner
        self._config = config or LimiterConfig()
        self._shared = adaptive  # False: a fixed local pool (SPEC.md's policy alone)
        self._held: set[int] = set()  # slots the store says this worker holds
        self._busy: set[int] = set()  # ... of which a call runs on
        self._unshared = 0  # calls running without a slot (the store did not answer)
        self._valid_until: datetime | None = None  # our slots' lease, as last renewed
        self._held_total = 0  # slots held by all workers, as last seen
        self._waiters = 0
        # After a refusal the provider is full (maybe of another worker's call above a
        # cut): no new call until one of ours succeeds, else a burst of them is refused.
        self._holding_back = False
        self._outcomes: list[_Outcome] = []
        self._store_up = True
        self._idle_since: datetime | None = None
        self._renewed_at: datetime | None = None
        self._seen_at: datetime | None = None  # the store's last answer
        self._changed = asyncio.Condition()
        self._kick = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._report()

    # -- what the engine reads ----------------------------------------------------------

    @property
    def limit(self) -> ConcurrencyLimit:
        return self._limit

    @property
    def in_flight(self) -> int:
        return (len(self._busy) if self._shared else 0) + self._unshared

    @property
    def capacity(self) -> int:
        """How many calls this worker could run at once now: its usable slots and the free
        ones it may take (at least one, so that it asks)."""
        if not self._shared:
            return self._limit.permits
        free = max(self._limit.permits - self._held_total, 0)
        return max(len(self._usable()) + free, 1)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call *listener* whenever the capacity may have grown."""
        self._listeners.append(listener)

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._shared and self._task is None:
            self._task = asyncio.create_task(self._maintain())

    async def close(self) -> None:
        """Stop; keep what was learned and give back every slot (within the deadline)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self._shared:
            return
        with contextlib.suppress(StorageError):
            await self._learn()
            if self._held:
                await self._deadline(
                    self._state.return_permits(self._owner, sorted(self._held), self._clock.now())
                )
                self._held.clear()

    # -- calls ------------------------------------------------------------------------------

    async def acquire(self) -> Permit:
        """Wait for the right to make one call."""
        async with self._changed:
            permit = self._grant()
            if permit is None:
                self._waiters += 1
                self._kick.set()  # the store may have a slot for us
                try:
                    while (permit := self._grant()) is None:
                        await self._changed.wait()
                finally:
                    self._waiters -= 1
        self._report()
        return permit

    async def release(self, permit: Permit, *, refused: bool | None) -> None:
        """The call on *permit* ended: *refused* by a concurrency or rate limit, or not; None
        when it ended without an answer to learn from."""
        in_use = self.in_flight
        if permit.slot is None:
            self._unshared -= 1
        else:
            self._busy.discard(permit.slot)
        if refused is not None and self._shared:  # a fixed pool learns nothing
            self._holding_back = refused
            outcome = _Outcome(refused, in_use, self._clock.now())
            if refused:  # cut at once; the store's answer follows
                self._limit = self._cut(self._limit, outcome)
            if len(self._outcomes) >= MAX_PENDING_OUTCOMES:
                self._outcomes.pop(0)
            self._outcomes.append(outcome)
            self._kick.set()
        await self._notify()

    def _cut(self, limit: ConcurrencyLimit, outcome: _Outcome) -> ConcurrencyLimit:
        """This worker's view after a refusal, before the store has it."""
        others = max(self._held_total - len(self._held), 0)
        return limit.on_refusal(others + outcome.in_use, outcome.at)

    def _grant(self) -> Permit | None:
        if not self._shared:
            if self._unshared < self._limit.permits:
                self._unshared += 1
                return Permit(None)
            return None
        if self._holding_back and self.in_flight:
            return None  # one of ours will end soon and tell whether there is room
        usable = self._usable()
        free = sorted(usable - self._busy)
        # Calls started on slots above a cut still run: no new call until this worker's
        # calls are below its usable slots again (else the provider, still full of the
        # old ones, refuses every new one at once).
        if free and len(self._busy) < len(usable):
            self._busy.add(free[0])
            self._idle_since = None
            return Permit(free[0])
        if not usable and not self._store_up and self._unshared < self._policy.min_limit:
            self._unshared += 1  # the store does not answer: a worker never stalls
            return Permit(None)
        return None

    def _usable(self) -> set[int]:
        """Slots held, below the permits, whose lease has not run out."""
        if self._valid_until is None or self._clock.now() >= self._valid_until:
            return set()
        return {slot for slot in self._held if slot < self._limit.permits}

    # -- the store ------------------------------------------------------------------------

    async def _maintain(self) -> None:
        """The one task that talks to the store: lessons, slots wanted, idle or surplus
        slots given back, renewals; the calls never wait for it."""
        while True:
            try:
                await self._step()
                if not self._store_up:
                    log.warning("the shared concurrency limit is reachable again")
                self._store_up = True
            except Exception as exc:  # a bug here must not stall the calls either
                if not isinstance(exc, StorageError):
                    log.exception("the shared concurrency limit failed")
                if self._store_up:
                    log.warning(
                        "shared concurrency limit unavailable (%s): keeping the slots held "
                        "until their lease ends, then at most %d call(s) unshared",
                        exc,
                        self._policy.min_limit,
                    )
                self._store_up = False
                await self._notify()
                await self._sleep(self._config.retry.total_seconds())
                continue
            await self._notify()
            await self._sleep(self._next_wake())

    async def _step(self) -> None:
        now = self._clock.now()
        if self._learning_due(now):
            await self._learn()
        surplus = {s for s in self._held - self._busy if s >= self._limit.permits}
        if self._waiters == 0 and self._held - self._busy:
            self._idle_since = self._idle_since or now
            if now - self._idle_since >= self._config.idle:
                surplus |= self._held - self._busy
        else:
            self._idle_since = None
        if surplus:
            log.debug("permits: giving back %s", sorted(surplus))
            self._seen(
                await self._deadline(self._state.return_permits(self._owner, sorted(surplus), now))
            )
            self._held -= surplus
        wanted = self._waiters - len(self._usable() - self._busy)
        renew_due = self._renewed_at is None or (now - self._renewed_at >= self._config.lease / 3)
        if (wanted > 0 and self._may_take(now)) or (self._held and renew_due):
            await self._take(max(wanted, 0), now)

    def _learning_due(self, now: datetime) -> bool:
        """Refusals at once; successes once the oldest waiting has waited ``learn_every``
        (batches under load; on an idle service, after the call's own save)."""
        if not self._outcomes:
            return False
        if any(o.refused for o in self._outcomes):
            return True
        return now - self._outcomes[0].at >= self._config.learn_every

    def _may_take(self, now: datetime) -> bool:
        """Worth asking the store: its last answer showed free slots, or it has not
        answered for a poll interval (every lesson's answer shows the slots held)."""
        if self._limit.permits > self._held_total:
            return True
        if len(self._held) >= self._limit.permits:
            return False  # this worker holds them all
        return self._seen_at is None or now - self._seen_at >= self._config.poll

    async def _take(self, want: int, now: datetime) -> None:
        view = await self._deadline(
            self._state.take_permits(self._owner, want, self._policy, now, self._config.lease)
        )
        self._renewed_at = now
        self._valid_until = now + self._config.lease
        lost = self._held - view.mine
        if lost:
            log.warning("concurrency permit(s) %s lost (their lease ran out)", sorted(lost))
        log.debug(
            "permits: wanted %d, hold %s; %d held by all, limit %d",
            want,
            sorted(view.mine),
            view.held,
            self._policy.with_learned(view.learned).permits,
        )
        self._seen(view)

    async def _learn(self) -> None:
        if not self._outcomes:
            return
        batch, self._outcomes = self._outcomes, []
        policy = self._policy

        def learn(stored: LearnedLimit | None, others: int) -> LearnedLimit:
            limit = policy.with_learned(stored)
            for o in batch:
                in_flight = others + o.in_use
                if o.refused:
                    limit = limit.on_refusal(in_flight, o.at)
                else:
                    limit = limit.on_success(in_flight, o.at)
            return limit.learned

        before = self._limit.permits
        now = self._clock.now()
        try:
            view = await self._deadline(self._state.learn_limit(self._owner, learn, now))
        except StorageError:
            self._outcomes = (batch + self._outcomes)[-MAX_PENDING_OUTCOMES:]
            raise
        self._seen(view)
        log.debug("learned from %d call(s): %s", len(batch), view.learned)
        if self._limit.permits != before:
            log.info("concurrency limit now %d", self._limit.permits)

    def _seen(self, view: PermitView) -> None:
        """The store's answer: the shared limit, our slots, everyone's. Refusals it has not
        seen yet (they came during the round trip) still cut this worker's view."""
        self._held = set(view.mine)
        self._held_total = view.held
        self._seen_at = self._clock.now()
        limit = self._policy.with_learned(view.learned)
        for outcome in self._outcomes:
            if outcome.refused:
                limit = self._cut(limit, outcome)
        self._limit = limit
        self._report()

    def _next_wake(self) -> float:
        """Seconds until there is something to do without a kick."""
        now = self._clock.now()
        due = [self._config.lease / 3]
        if self._renewed_at is not None and self._held:
            due.append(self._renewed_at + self._config.lease / 3 - now)
        if self._waiters:
            due.append(self._config.poll)
        if self._idle_since is not None and self._held - self._busy:
            due.append(self._idle_since + self._config.idle - now)
        if self._outcomes:
            due.append(self._outcomes[0].at + self._config.learn_every - now)
        return max(min(due).total_seconds(), 0.0)

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless_woken(self._clock, self._kick, seconds)

    async def _deadline(self, call: Awaitable[T]) -> T:
        """The store's answer within the configured time, else StorageError."""
        answer = asyncio.ensure_future(call)
        late = asyncio.ensure_future(self._clock.sleep(self._config.timeout.total_seconds()))
        try:
            await asyncio.wait({answer, late}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            late.cancel()
        if not answer.done():
            answer.cancel()
            raise StorageError(
                f"the store did not answer within {self._config.timeout.total_seconds():g} s"
            )
        return answer.result()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
        for listener in self._listeners:
            listener()
        self._report()

    def _report(self) -> None:
        self._metrics.set_concurrency(self._limit.limit, self.in_flight)
