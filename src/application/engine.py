"""The worker, which schedules: claims due messages and parses them concurrently under
the adaptive limiter; wakes at once on local posts, on a timer at the earliest
retry_after, and at a short poll interval for posts stored by other processes; probes
the quota while the gate is closed; recovers stuck messages. Storage outages are
StorageHealth's to report and back off from; the limiter learns and keeps the limit.

A message is claimed while this worker could run more calls than it has messages in
hand, plus ``prefetch``: the claim and the cache look-up happen before the permit is
taken, so a freed permit goes to a message that is ready and the provider never waits
for the store."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

from channel_parser.application.config import EngineConfig
from channel_parser.application.errors import StorageError
from channel_parser.application.limiter import AdaptiveLimiter
from channel_parser.application.permit_gate import GateClosed, PermitGate
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import MessageRepository
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.use_cases.claim_message import ClaimMessage
from channel_parser.application.use_cases.probe_quota import ProbeQuota, ProbeResult
from channel_parser.application.use_cases.process_message import ProcessMessage
from channel_parser.application.use_cases.recover_stuck import RecoverStuck
from channel_parser.application.waiting import sleep_unless_woken
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.message_rules import LEASED

log = logging.getLogger(__name__)

T = TypeVar("T")


class Engine:
    def __init__(
        self,
        claim: ClaimMessage,
        process: ProcessMessage,
        recover: RecoverStuck,
        probe: ProbeQuota,
        messages: MessageRepository,
        limiter: AdaptiveLimiter,
        health: StorageHealth,
        clock: Clock,
        config: EngineConfig,
        owner: str,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._claim = claim
        self._process = process
        self._recover = recover
        self._probe = probe
        self._messages = messages
        self._limiter = limiter
        self._health = health
        self._clock = clock
        self._config = config
        self._owner = owner
        self._wake = wakeup or asyncio.Event()  # set by IngestPost when a post is stored
        self._stopping = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], PermitGate] = {}
        self._room = asyncio.Event()  # a task ended, or the limiter's capacity grew
        limiter.on_change(self._room.set)
        self._held_wait_until: datetime | None = None  # until_idle: see _wait_for_held

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def wake(self) -> None:
        """A post was stored: look for work now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; run() returns after in-flight calls end (within the grace time).
        Messages still waiting for a permit are given back at once."""
        self._stopping.set()
        self._wake.set()
        self._give_back_waiting()

    def _give_back_waiting(self) -> None:
        """Messages claimed ahead and waiting for a permit go back to the store (those
        not yet at the gate find it closed when stopping)."""
        for task, gate in self._tasks.items():
            if gate.waiting:
                task.cancel()

    async def run(self, *, until_idle: bool = False) -> None:
        """Work until stop(), or (until_idle) until nothing is due and nothing in flight."""
        stuck_checker = asyncio.create_task(self._check_stuck_periodically())
        self._limiter.start()
        try:
            await self._guard(self._recover())  # due retries and stuck messages, at start
            # A closed gate due a probe (the balance may be back; a misconfiguration met
            # with other provider settings) is probed at once, not after the first idle.
            await self._guard(self._probe())
            await self._loop(until_idle)
        finally:
            stuck_checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stuck_checker
            await self._drain()
            await self._limiter.close()

    # -- the loop -------------------------------------------------------------------

    async def _loop(self, until_idle: bool) -> None:
        claims = itertools.count(1)
        while not self._stopping.is_set():
            if not await self._room_unless_stopping():
                break
            try:
                # One owner per claim, so that a message this process claims again (its
                # lease expired in a long storage outage) is not saved by both tasks.
                claimed = await self._claim(f"{self._owner}/{next(claims)}")
            except StorageError as exc:
                await self._wait(await self._health.failed(exc))
                continue
            self._health.ok()
            if claimed.message is None:
                if until_idle and not self._tasks:
                    # Nothing claimable and nothing running: one more look after any
                    # stuck recovery, then stop (once no dead worker holds a message).
                    if not claimed.gate.is_open:
                        return
                    if await self._guard(self._recover()) or await self._wait_for_held():
                        continue
                    return
                await self._idle(claimed.gate, until_idle)
                continue
            # A failure that closes the quota gate sends the messages claimed ahead back
            # before its permit can pass to one of them.
            gate = PermitGate(
                self._limiter, self._stopping, on_quota_gate_closing=self._give_back_waiting
            )
            task = asyncio.create_task(self._handle(claimed.message, gate))
            self._tasks[task] = gate
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._room.set()

    async def _room_unless_stopping(self) -> bool:
        """Wait until this worker may hold one more message (the calls it could run now,
        plus the prefetch); False as soon as stop() is called (even while every permit is
        busy, so that a SIGTERM starts the shutdown grace time at once)."""
        while not self._stopping.is_set():
            if len(self._tasks) < self._limiter.capacity + self._config.prefetch:
                return True
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({room, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                room.cancel()
                stopping.cancel()
        return False

    async def _wait_for_held(self) -> bool:
        """until_idle, nothing due: whether to wait for messages other workers hold.

        A dead worker's lease runs out within one lease of now, so it waits that long
        (looking again every poll interval); after that, what is still held belongs to
        live workers renewing their leases, and is left to them, saying so."""
        stats = await self._guard(self._messages.stats())
        if stats is None:
            return True  # the store failed (and was waited for): look again
        held = stats.by_status.get(LEASED, 0)
        if not held:
            return False
        now = self._clock.now()
        lease = self._config.lease
        if self._held_wait_until is None:
            self._held_wait_until = now + lease
            log.info(
                "%d message(s) held by other workers: waiting up to %.0f s for the leases "
                "of any that died to expire",
                held,
                lease.total_seconds(),
            )
        if now >= self._held_wait_until:
            log.warning(
                "leaving %d message(s) to the workers holding them: their leases are still "
                "being renewed after %.0f s, so those workers are alive",
                held,
                lease.total_seconds(),
            )
            return False
        poll = self._config.poll_interval.total_seconds()
        await self._wait(min(poll, (self._held_wait_until - now).total_seconds()))
        return not self._stopping.is_set()

    async def _idle(self, gate: QuotaGate, until_idle: bool) -> None:
        """Wait for a wake-up, the next due retry, the probe time or the poll interval;
        until_idle with calls in flight, for the first of them to end (or a stop)."""
        if until_idle and self._tasks:
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({*self._tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            return
        now = self._clock.now()
        timeout = self._config.poll_interval.total_seconds()
        if not gate.is_open:
            if self._probe.due(gate, now):
                result = await self._guard(self._probe())
                if result in (ProbeResult.REOPENED, ProbeResult.STILL_CLOSED):
                    return  # the loop reads the gate again: open, or the next probe time
                # another process is probing (or the store failed): look again after a poll
            elif gate.probe_at is not None:
                timeout = min(timeout, (gate.probe_at - now).total_seconds())
        else:
            next_retry = await self._guard(self._messages.next_retry_at())
            if next_retry is not None:
                timeout = min(timeout, (next_retry - now).total_seconds())
        await self._wait(max(timeout, 0.0))

    async def _wait(self, seconds: float) -> None:
        await sleep_unless_woken(self._clock, self._wake, seconds)

    # -- one message ----------------------------------------------------------------

    async def _handle(self, message: IncomingMessage, gate: PermitGate) -> None:
        owner = message.lease_owner or self._owner  # the claim's own owner
        processed = False
        try:
            await self._process(message, owner, gate)
            processed = True
        except GateClosed:  # stopping before its call: back to the store at once
            await self._release(message, owner)
        except asyncio.CancelledError:
            await self._release(message, owner)
            raise
        except StorageError as exc:
            log.error("message %s: storage failed while saving: %s", message.key, exc)
        except Exception:  # ProcessMessage records any error; only recording it failed
            log.exception("message %s: could not record an internal error", message.key)
        finally:
            await gate.leave(None)  # a no-op when the call already gave its permit back
            if processed:
                self._wake.set()  # a retry may now be the earliest; the loop recomputes

    async def _release(self, message: IncomingMessage, owner: str) -> None:
        """Shutdown: give an unfinished message back so that it is not held for a lease."""
        try:
            message.release(owner, self._clock.now())
            await self._messages.save(message, owner)
        except Exception as exc:  # it will come back when its lease expires
            log.warning("message %s: could not release it: %s", message.key, exc)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        grace = self._config.shutdown_grace.total_seconds()
        log.info("waiting up to %.0f s for %d call(s) in flight", grace, len(self._tasks))
        pending = set(self._tasks)
        grace_over = asyncio.ensure_future(self._clock.sleep(grace))
        while pending and not grace_over.done():
            await asyncio.wait({grace_over, *pending}, return_when=asyncio.FIRST_COMPLETED)
            pending = {task for task in pending if not task.done()}
        grace_over.cancel()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.warning("released %d message(s) unfinished at shutdown", len(pending))

    # -- periodic work and storage trouble --------------------------------------------

    async def _check_stuck_periodically(self) -> None:
        every = self._config.stuck_check_interval.total_seconds()
        while True:
            await self._clock.sleep(every)
            try:
                recovered = await self._recover()
            except StorageError:
                continue  # the main loop reports outages (and owns the wake-up event)
            if recovered:
                self.wake()

    async def _guard(self, call: Awaitable[T]) -> T | None:
        """A storage call whose failure must not stop the loop: None on failure, after
        the outage's backoff (cut short by a wake-up)."""
        return await self._health.guard(call, wait=self._wait)
