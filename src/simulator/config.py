"""What the Z.AI simulator is told: its limits, latency and the faults it may serve."""

from __future__ import annotations

import enum
import itertools
import math
import random
from typing import Any, Literal

import attrs

from channel_parser.adapters.llm.codes import ZAI_CODES


class Fault(enum.StrEnum):
    """Named faults; besides these, any Z.AI business code ("1301", "1302", ...) is a fault."""

    HANG = "hang"  # hold the request (past any client timeout)
    HTTP_500 = "500"
    HTTP_503 = "503"
    DROP = "drop"  # close the connection without an answer
    NON_JSON = "non_json"  # a 200 whose answer is prose, not JSON
    SCHEMA_BREAK = "schema_break"  # a 200 whose answer is JSON that breaks the schema
    ERROR_IN_200 = "error_in_200"  # a 200 whose body is an error object (1305)
    SENSITIVE = "sensitive"  # a 200 whose answer the content filter ended (finish_reason)
    DEEP = "deep"  # a 200 whose answer is a JSON object nesting `deep_levels` levels
    DRIP = "drip"  # a good 200 sent one byte every `drip_seconds`
    HUGE = "huge"  # a 200 whose answer holds a string of `huge_bytes` bytes, streamed
    NO_CHOICES = "no_choices"  # a 200 whose body is {"choices": []}


ZAI_MESSAGES: dict[str, str] = {
    "1001": "Authentication parameter not received in Header, unable to authenticate",
    "1002": "Authorization Token非法，请确认Authorization Token正确传递。",
    "1113": "Insufficient balance or no resource package. Please recharge.",
    "1210": "API 调用参数有误，请检查文档。",
    "1211": "Unknown Model, please check the model code.",
    "1261": "Prompt exceeds max length",
    "1301": "System detected potentially unsafe or sensitive content in input or generation.",
    "1302": (
        "High concurrency usage of this API, please reduce concurrency or contact "
        "customer service to increase limits"
    ),
    "1303": (
        "High frequency usage of this API, please reduce frequency or contact "
        "customer service to increase limits"
    ),
    "1305": "The service may be temporarily overloaded, please try again later",
    "1308": "Usage limit reached for 5 hour. Your limit will reset at 2026-01-26 02:42:51",
    "1310": "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-02-01 08:00:00",
    "1312": "The model is currently overloaded, please try again later or use another model",
}


def zai_status(code: str) -> int:
    """The HTTP status Z.AI answers a business code with."""
    number = int(code)
    if 1000 <= number <= 1004:
        return 401
    if number == 1234:
        return 500
    if 1200 <= number < 1300 or number in (1300, 1301):
        return 400
    return 429


def _fault_name(raw: object) -> str:
    value = str(raw)
    if value in Fault.__members__.values() or value in ZAI_CODES:
        return value
    raise ValueError(f"unknown fault {value!r}: one of {[f.value for f in Fault]} or a Z.AI code")


@attrs.frozen
class FaultSpec:
    """One fault to serve; *headers* are added to the reply (e.g. ``retry-after``), *message*
    replaces the Z.AI error text."""

    kind: str = attrs.field(converter=_fault_name)
    headers: dict[str, str] = attrs.field(factory=dict)
    message: str | None = None

    @classmethod
    def of(cls, value: FaultSpec | str | dict[str, Any]) -> FaultSpec:
        if isinstance(value, FaultSpec):
            return value
        if isinstance(value, dict):
            return cls(str(value["kind"]), dict(value.get("headers") or {}), value.get("message"))
        return cls(str(value))


Distribution = Literal["fixed", "uniform", "exponential", "lognormal"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("fixed", "uniform", "exponential", "lognormal")


@attrs.frozen
class Latency:
    """Time to answer a good request, seeded: fixed, uniform (± jitter), exponential (mean
    *ms*) or lognormal (mean *ms*, *sigma* the standard deviation of its logarithm: 0.25 is
    a narrow spread, 0.8 a heavy tail)."""

    ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: Distribution = "fixed"
    sigma: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))

    def sample(self, rng: random.Random) -> float:
        """Seconds."""
        if self.distribution == "uniform":
            value = rng.uniform(self.ms - self.jitter_ms, self.ms + self.jitter_ms)
        elif self.distribution == "exponential":
            value = rng.expovariate(1.0 / self.ms) if self.ms > 0 else 0.0
        elif self.distribution == "lognormal":
            # mean = exp(mu + sigma^2 / 2), so mu is chosen to keep the mean at ms
            mu = math.log(self.ms) - self.sigma**2 / 2 if self.ms > 0 else -math.inf
            value = rng.lognormvariate(mu, self.sigma) if self.ms > 0 else 0.0
        else:
            value = self.ms
        return max(value, 0.0) / 1000.0


@attrs.frozen
class LimitSchedule:
    """A hidden concurrency limit that moves: *first* from the start, then each
    ``(seconds, limit)`` from that many seconds after the start (or the last reset)."""

    first: int = attrs.field(validator=attrs.validators.ge(1))
    changes: tuple[tuple[float, int], ...] = ()

    def __attrs_post_init__(self) -> None:
        times = [at for at, _ in self.changes]
        if times != sorted(times) or any(at < 0 for at in times):
            raise ValueError("limit changes must be at increasing, non-negative times")
        if any(limit < 1 for _, limit in self.changes):
            raise ValueError("a concurrency limit must be at least 1")

    @classmethod
    def parse(cls, text: str) -> LimitSchedule:
        """``"8,4@15,12@30"``: 8 from the start, 4 after 15 s, 12 after 30 s."""
        try:
            head, *rest = [part.strip() for part in text.split(",")]
            changes = []
            for part in rest:
                limit, _, at = part.partition("@")
                if not at:
                    raise ValueError(part)
                changes.append((float(at), int(limit)))
            return cls(int(head), tuple(changes))
        except ValueError as exc:
            raise ValueError(
                f"limit schedule {text!r}: expected LIMIT[,LIMIT@SECONDS...], e.g. 8,4@15,12@30"
            ) from exc

    def limit_at(self, seconds: float) -> int:
        limit = self.first
        for at, value in self.changes:
            if seconds >= at:
                limit = value
        return limit

    def limit_seconds(self, start: float, end: float) -> float:
        """The limit integrated over [start, end] (seconds after the schedule's start)."""
        edges = [start, *(at for at, _ in self.changes if start < at < end), end]
        return sum(self.limit_at(a) * (b - a) for a, b in itertools.pairwise(edges))


def _latency(value: Latency | dict[str, Any] | float) -> Latency:
    """A Latency, its fields as a dict, or a fixed number of milliseconds."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, dict):
        return Latency(**value)
    return Latency(float(value))


@attrs.frozen
class SimulatorConfig:
    """Everything is optional: the default simulator answers every request at once."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    api_key: str | None = None  # None: any non-empty Bearer key is accepted
    model: str | None = None  # set: another model answers 1211
    concurrency_limit: int | None = None  # the hidden limit; above it: 429 / 1302
    limit_schedule: LimitSchedule | None = None  # a moving hidden limit (wins over the above)
    rpm: int | None = None  # requests accepted per 60 s; above it: 429 / 1303
    balance: int | None = None  # calls (or tokens) left; at 0: 429 / 1113
    balance_unit: Literal["calls", "tokens"] = "calls"
    latency: Latency = attrs.field(default=Latency(), converter=_latency)
    seed: int = 0
    hang_seconds: float = 3600.0  # how long a "hang" fault holds the request
    deep_levels: int = 100_000  # how deep a "deep" answer nests
    drip_seconds: float = 0.5  # a "drip" reply's pause between bytes
    huge_bytes: int = 200_000_000  # the length of a "huge" answer's string
