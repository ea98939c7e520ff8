"""Learning the provider's hidden concurrency limit (AIMD with a remembered ceiling that
ages).

The drop signal is a concurrency (1302) or rate-limit refusal, never latency: an
LLM's latency depends on how much it writes. While calls succeed with every
permit in use the limit grows by about one per window of calls (two while no ceiling is
known: at the start, and after the provider raised its limit); a refusal cuts
it below the level at which it happened and remembers that level as the
ceiling, near which the limit grows only slowly again. So the limit settles
just under the provider's real one and probes above it rarely.

Providers move their limits (a plan upgrade, off-peak hours, an incident), so the
ceiling ages: its weight is 1 right after a refusal and halves with every
``window_half_life`` windows of successful full use and with every
``time_half_life``; growth near it is ``1 + (probe_windows - 1) * weight`` times
slower. A ceiling the calls have reached without a refusal for a whole window (as many
successes with that many calls in flight as the ceiling) is forgotten: the provider has
evidently raised its limit, and growth is back to full speed. (One success is not
enough: a call counted in flight here may already have left the provider.) Decreases
stay immediate.

A provider that lowers its limit (an incident, peak hours) usually raises it again: after
a refusal below the ceiling that had held, the level that used to work is remembered for
``restore_for``, and while the limit is below it the ceiling ages ``restore_pace`` times
faster, so that the limit's return is found sooner.

The learned part (``LearnedLimit``) is what the workers share through the store; the
bounds and the pace are each process's settings.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.time import require_aware


@attrs.frozen
class LearnedLimit:
    """What is learned: the limit, the ceiling and how much the ceiling still weighs."""

    limit: float
    ceiling: int | None = None
    weight: float = 0.0  # of the ceiling, at *weighed_at*: 1 just after a refusal
    weighed_at: datetime | None = None
    at_ceiling: int = 0  # successes with the ceiling's number of calls in flight
    restore: int | None = None  # the permits that worked before the provider lowered its limit
    restore_until: datetime | None = None


@attrs.frozen
class ConcurrencyLimit:
    limit: float = attrs.field(default=4.0)
    min_limit: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    max_limit: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    decrease: float = attrs.field(
        default=0.9, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)]
    )
    # Near a fresh ceiling, growth is this many times slower than a window per step.
    probe_windows: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    # Steps per window of full use while no ceiling is known (at the start, and once the
    # provider has raised its limit): faster than the one step next to a ceiling.
    free_steps: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    # Windows of successful full use, and time, that each halve the ceiling's weight.
    window_half_life: float = attrs.field(default=16.0, validator=attrs.validators.gt(0.0))
    time_half_life: timedelta = attrs.field(default=timedelta(minutes=2))
    # After the provider lowered its limit: how much faster the ceiling ages while below
    # the level that worked before, and for how long that level is remembered.
    restore_pace: float = attrs.field(default=4.0, validator=attrs.validators.ge(1.0))
    restore_for: timedelta = attrs.field(default=timedelta(minutes=10))
    ceiling: int | None = None
    weight: float = attrs.field(
        default=0.0,
        validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0)),
    )
    weighed_at: datetime | None = None
    at_ceiling: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    restore: int | None = None
    restore_until: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.min_limit > self.max_limit:
            raise ValueError("min_limit must not exceed max_limit")
        if self.time_half_life <= timedelta(0):
            raise ValueError("time_half_life must be positive")
        clamped = min(max(self.limit, float(self.min_limit)), float(self.max_limit))
        object.__setattr__(self, "limit", clamped)

    @property
    def permits(self) -> int:
        """How many calls may be in flight at once now."""
        return max(self.min_limit, min(self.max_limit, math.floor(self.limit)))

    @property
    def learned(self) -> LearnedLimit:
        return LearnedLimit(
            self.limit,
            self.ceiling,
            self.weight,
            self.weighed_at,
            self.at_ceiling,
            self.restore,
            self.restore_until,
        )

    def with_learned(self, learned: LearnedLimit | None) -> ConcurrencyLimit:
        """These bounds and this pace with what was learned (by any process); unchanged
        when nothing was."""
        if learned is None:
            return self
        return attrs.evolve(
            self,
            limit=learned.limit,
            ceiling=learned.ceiling,
            weight=learned.weight,
            weighed_at=learned.weighed_at,
            at_ceiling=learned.at_ceiling,
            restore=learned.restore,
            restore_until=learned.restore_until,
        )

    def ceiling_weight(self, now: datetime) -> float:
        """The ceiling's weight at *now*: 0 without a ceiling, decayed by the time since
        it was last brought up to date."""
        if self.ceiling is None:
            return 0.0
        if self.weighed_at is None:
            return self.weight
        elapsed = (require_aware(now) - self.weighed_at) / self.time_half_life
        return self.weight * math.pow(0.5, max(elapsed, 0.0))

    def on_success(self, in_flight: int, now: datetime) -> ConcurrencyLimit:
        """A call succeeded at *now* while *in_flight* calls (itself included) were running."""
        if in_flight < self.permits:
            return self  # not using what we have: no evidence that more would work
        now = require_aware(now)
        at_ceiling = self.at_ceiling
        if self.ceiling is not None and in_flight >= self.ceiling:
            at_ceiling += 1
            if at_ceiling >= self.ceiling:
                # A window at the level once refused: the provider raised its limit.
                return self._grown(self.free_steps / self.limit, None, 0.0, now)
        step = (1.0 if self.ceiling is not None else self.free_steps) / self.limit
        weight = self.ceiling_weight(now)
        if self.ceiling is not None and self.limit + 1.0 >= self.ceiling:
            step /= 1.0 + (self.probe_windows - 1) * weight
        # One success is 1/permits of a window of full use.
        half_life = self.window_half_life / (self.restore_pace if self.restoring(now) else 1.0)
        weight *= math.pow(0.5, 1.0 / (half_life * self.permits))
        return self._grown(step, self.ceiling, weight, now, at_ceiling)

    def restoring(self, now: datetime) -> bool:
        """Below a level that worked before the provider lowered its limit, lately."""
        return (
            self.restore is not None
            and self.restore_until is not None
            and require_aware(now) < self.restore_until
            and self.permits < self.restore
        )

    def on_refusal(self, in_flight: int, now: datetime) -> ConcurrencyLimit:
        """The provider refused a call at *now* while *in_flight* calls were running.

        A refusal with more calls in flight than the permits now allow is late: its call
        started before an earlier cut, which already answered for that level. It freshens
        the ceiling but cuts no further (one cut per level, as TCP cuts once per window),
        so that a burst of refusals from one probe costs one step, not several."""
        now = require_aware(now)
        if in_flight > self.permits and self.limit > self.min_limit:
            ceiling = in_flight if self.ceiling is None else min(self.ceiling, in_flight)
            return attrs.evolve(self, ceiling=ceiling, weight=1.0, weighed_at=now, at_ceiling=0)
        below = max(in_flight - 1, self.min_limit)
        limit = max(float(self.min_limit), min(self.limit * self.decrease, float(below)))
        restore, restore_until = self.restore, self.restore_until
        if self.ceiling is not None and in_flight < self.ceiling:
            # Refused below the ceiling that held: the provider lowered its limit.
            restore = max(self.permits, restore or 0) if self.restoring(now) else self.permits
            restore_until = now + self.restore_for
        return attrs.evolve(
            self,
            limit=limit,
            ceiling=max(in_flight, self.min_limit + 1),
            weight=1.0,
            weighed_at=now,
            at_ceiling=0,
            restore=restore,
            restore_until=restore_until,
        )

    def _grown(
        self,
        step: float,
        ceiling: int | None,
        weight: float,
        now: datetime,
        at_ceiling: int = 0,
    ) -> ConcurrencyLimit:
        limit = min(self.limit + step, float(self.max_limit))
        back = self.restore is not None and math.floor(limit) >= self.restore
        return attrs.evolve(
            self,
            limit=limit,
            ceiling=ceiling,
            weight=weight if ceiling is not None else 0.0,
            weighed_at=now if ceiling is not None else None,
            at_ceiling=at_ceiling if ceiling is not None else 0,
            restore=None if back else self.restore,
            restore_until=None if back else self.restore_until,
        )
