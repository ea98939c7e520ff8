"""The simulator's mutable state: balance, request window, scripted faults and counters."""

from __future__ import annotations

import collections
from typing import Any

import attrs

from channel_parser.simulator.config import FaultSpec, SimulatorConfig

WINDOW_SECONDS = 60.0


@attrs.frozen
class SimulatorStats:
    """What the simulator saw since start or the last reset."""

    total_calls: int
    in_flight: int
    peak_in_flight: int
    successes: int
    successes_by_text: dict[str, int]  # text_key(post text) -> successful answers
    rejections: dict[str, int]  # Z.AI code or HTTP status -> count
    faults: dict[str, int]  # fault kind -> times served
    balance: int | None
    thinking: dict[str, int]  # the requests' thinking.type ("absent": not sent) -> count
    max_tokens: dict[str, int]  # the requests' max_tokens ("absent": not sent) -> count
    # Seconds from the first call to the last good answer (None: no answer yet): the
    # window a benchmark's throughput is measured over.
    first_to_last_success: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class _Trigger:
    fault: FaultSpec
    remaining: int | None  # None: every time


class SimulatorState:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.balance = config.balance
        self._accepted: collections.deque[float] = collections.deque()
        self._queue: collections.deque[FaultSpec] = collections.deque()
        self._triggers: dict[str, _Trigger] = {}
        self.in_flight = 0
        self.reset_stats()

    def reset_stats(self) -> None:
        """Zero the counters; the limit schedule starts again at the next call."""
        self.started: float | None = None  # loop time of the first call since the reset
        self.last_success: float | None = None  # loop time of the last good answer
        self.total_calls = 0
        self.peak_in_flight = self.in_flight
        self.successes = 0
        self.successes_by_text: collections.Counter[str] = collections.Counter()
        self.rejections: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.thinking: collections.Counter[str] = collections.Counter()
        self.max_tokens: collections.Counter[str] = collections.Counter()

    def stats(self) -> SimulatorStats:
        return SimulatorStats(
            total_calls=self.total_calls,
            in_flight=self.in_flight,
            peak_in_flight=self.peak_in_flight,
            successes=self.successes,
            successes_by_text=dict(self.successes_by_text),
            rejections=dict(self.rejections),
            faults=dict(self.faults),
            balance=self.balance,
            thinking=dict(self.thinking),
            max_tokens=dict(self.max_tokens),
            first_to_last_success=(
                None
                if self.started is None or self.last_success is None
                else self.last_success - self.started
            ),
        )

    def saw_options(self, thinking: str, max_tokens: str) -> None:
        self.thinking[thinking] += 1
        self.max_tokens[max_tokens] += 1

    # -- faults ------------------------------------------------------------------------
    def script(self, faults: list[FaultSpec]) -> None:
        self._queue.extend(faults)

    def trigger(self, text: str, fault: FaultSpec, times: int | None = None) -> None:
        self._triggers[text] = _Trigger(fault, times)

    def clear_faults(self) -> None:
        self._queue.clear()
        self._triggers.clear()

    def take_fault(self, text: str) -> FaultSpec | None:
        """The next scripted fault, else the first trigger found in *text*."""
        if self._queue:
            return self._queue.popleft()
        for needle, trig in list(self._triggers.items()):
            if needle in text:
                if trig.remaining is not None:
                    trig.remaining -= 1
                    if trig.remaining <= 0:
                        del self._triggers[needle]
                return trig.fault
        return None

    # -- limits -------------------------------------------------------------------------
    def balance_left(self) -> bool:
        return self.balance is None or self.balance > 0

    def charge(self, tokens: int) -> None:
        if self.balance is not None:
            cost = tokens if self.config.balance_unit == "tokens" else 1
            self.balance = max(self.balance - cost, 0)

    def top_up(self, amount: int) -> int | None:
        if self.balance is None:
            return None
        self.balance += amount
        return self.balance

    def admit_rate(self, now: float) -> bool:
        """Count a request against the per-minute limit; False when it is over the limit."""
        while self._accepted and self._accepted[0] <= now - WINDOW_SECONDS:
            self._accepted.popleft()
        if self.config.rpm is not None and len(self._accepted) >= self.config.rpm:
            return False
        self._accepted.append(now)
        return True

    def called(self, now: float) -> None:
        """A call arrived at loop time *now*: the first one starts the limit schedule."""
        self.total_calls += 1
        if self.started is None:
            self.started = now

    def answered(self, now: float) -> None:
        self.successes += 1
        self.last_success = now

    def concurrency_limit(self, now: float) -> int | None:
        """The hidden limit at loop time *now* (None: no limit)."""
        schedule = self.config.limit_schedule
        if schedule is not None:
            return schedule.limit_at(0.0 if self.started is None else now - self.started)
        return self.config.concurrency_limit

    def over_concurrency(self, now: float = 0.0) -> bool:
        limit = self.concurrency_limit(now)
        return limit is not None and self.in_flight >= limit

    def enter(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1
