"""Learning the provider's hidden concurrency limit (AIMD with a remembered ceiling).

The drop signal is a concurrency (1302) or rate-limit refusal, never latency: an
LLM's latency depends on how much it writes. While calls succeed with every
permit in use the limit grows by about one per window of calls; a refusal cuts
it below the level at which it happened and remembers that level as the
ceiling, above which the limit grows only slowly again. So the limit settles
just under the provider's real one and probes above it rarely.
"""

from __future__ import annotations

import math

import attrs


@attrs.frozen
class ConcurrencyLimit:
    limit: float = attrs.field(default=4.0)
    min_limit: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    max_limit: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    decrease: float = attrs.field(
        default=0.9, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)]
    )
    # Windows of successful full use it takes to grow by one above the ceiling.
    probe_windows: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    ceiling: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.min_limit > self.max_limit:
            raise ValueError("min_limit must not exceed max_limit")
        clamped = min(max(self.limit, float(self.min_limit)), float(self.max_limit))
        object.__setattr__(self, "limit", clamped)

    @property
    def permits(self) -> int:
        """How many calls may be in flight at once now."""
        return max(self.min_limit, min(self.max_limit, math.floor(self.limit)))

    def on_success(self, in_flight: int) -> ConcurrencyLimit:
        """A call succeeded while *in_flight* calls (itself included) were running."""
        if in_flight < self.permits:
            return self  # not using what we have: no evidence that more would work
        step = 1.0 / self.limit
        if self.ceiling is not None and self.limit + 1.0 >= self.ceiling:
            step /= self.probe_windows
        return attrs.evolve(self, limit=min(self.limit + step, float(self.max_limit)))

    def on_refusal(self, in_flight: int) -> ConcurrencyLimit:
        """The provider refused a call while *in_flight* calls were running."""
        below = max(in_flight - 1, self.min_limit)
        limit = max(float(self.min_limit), min(self.limit * self.decrease, float(below)))
        return attrs.evolve(self, limit=limit, ceiling=max(in_flight, self.min_limit + 1))
