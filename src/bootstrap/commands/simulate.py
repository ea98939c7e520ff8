"""``channel-parser simulate-zai``: the Z.AI simulator as a real server, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib

import typer

from channel_parser.bootstrap.app import app, fail
from channel_parser.simulator.config import (
    DISTRIBUTIONS,
    FaultSpec,
    Latency,
    LimitSchedule,
    SimulatorConfig,
)


@app.command("simulate-zai")
def simulate_zai(
    port: int = typer.Option(..., min=0, max=65535, help="Port to listen on (0: a free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    concurrency_limit: int | None = typer.Option(
        None, min=1, help="Hidden concurrency limit (1302 above it)."
    ),
    limit_schedule: str | None = typer.Option(
        None,
        help="A hidden limit that moves, e.g. 8,4@15,12@30: 8 from the start (or the last "
        "/admin/reset), 4 after 15 s, 12 after 30 s. Wins over --concurrency-limit.",
    ),
    rpm: int | None = typer.Option(None, min=1, help="Requests per minute (1303 above it)."),
    balance: int | None = typer.Option(None, min=0, help="Calls (or tokens) before 1113."),
    balance_unit: str = typer.Option("calls", help="What the balance counts: calls or tokens."),
    latency_ms: float = typer.Option(0.0, min=0, help="Time to answer a good request."),
    latency_jitter_ms: float = typer.Option(
        0.0, min=0, help="Spread for --latency-distribution uniform."
    ),
    latency_distribution: str = typer.Option(
        "fixed", help="fixed, uniform, exponential or lognormal (mean --latency-ms)."
    ),
    latency_sigma: float = typer.Option(
        0.0,
        min=0,
        help="Spread of the logarithm for lognormal latency (0.25 narrow, 0.8 heavy-tailed); "
        "above 0 it selects the lognormal distribution.",
    ),
    seed: int = typer.Option(0, help="Seed of the latency distribution."),
    api_key: str | None = typer.Option(
        None, help="The only key accepted (default: any non-empty)."
    ),
    model: str | None = typer.Option(None, help="The only model accepted (default: any)."),
    hang_seconds: float = typer.Option(3600.0, min=0, help="How long a 'hang' fault holds a call."),
    deep_levels: int = typer.Option(100_000, min=1, help="How deep a 'deep' answer nests."),
    drip_seconds: float = typer.Option(
        0.5, min=0, help="A 'drip' reply's pause between two bytes."
    ),
    huge_bytes: int = typer.Option(200_000_000, min=1, help="A 'huge' answer's length."),
    fault: list[str] = typer.Option(
        [],
        help="Serve this fault to the next call (repeatable, in order): hang, 500, 503, "
        "drop, non_json, schema_break, error_in_200, sensitive, deep, drip, huge, "
        "no_choices or a Z.AI code such as 1302.",
    ),
    trigger: list[str] = typer.Option(
        [], help="TEXT=FAULT: serve FAULT to every post containing TEXT (repeatable)."
    ),
) -> None:
    """Run a Z.AI-like chat-completions server (OpenAI-compatible, Z.AI's error codes).

    Base URL for clients: http://HOST:PORT/api/paas/v4. Admin: GET /admin/stats,
    POST /admin/reset, POST /admin/topup {"amount": N},
    POST /admin/faults {"queue": ["1302", "hang", ...], "triggers": {"TEXT": "1301"}}.
    """
    if balance_unit not in ("calls", "tokens"):
        fail("--balance-unit: calls or tokens")
    if latency_distribution not in DISTRIBUTIONS:
        fail(f"--latency-distribution: one of {', '.join(DISTRIBUTIONS)}")
    if latency_sigma > 0:
        latency_distribution = "lognormal"
    schedule = None
    if limit_schedule is not None:
        try:
            schedule = LimitSchedule.parse(limit_schedule)
        except ValueError as exc:
            fail(f"--limit-schedule: {exc}")
    config = SimulatorConfig(
        host=host,
        port=port,
        api_key=api_key,
        model=model,
        concurrency_limit=concurrency_limit,
        limit_schedule=schedule,
        rpm=rpm,
        balance=balance,
        balance_unit=balance_unit,  # type: ignore[arg-type]
        latency=Latency(
            latency_ms,
            latency_jitter_ms,
            latency_distribution,  # type: ignore[arg-type]
            latency_sigma,
        ),
        seed=seed,
        hang_seconds=hang_seconds,
        deep_levels=deep_levels,
        drip_seconds=drip_seconds,
        huge_bytes=huge_bytes,
    )
    try:
        queue = [FaultSpec.of(name) for name in fault]
        triggers = [(needle, FaultSpec.of(name)) for needle, name in map(_split_trigger, trigger)]
    except ValueError as exc:
        fail(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, queue, triggers))
    print("simulator stopped", flush=True)


def _split_trigger(value: str) -> tuple[str, str]:
    needle, sep, name = value.rpartition("=")
    if not sep or not needle:
        raise ValueError(f"--trigger {value!r}: expected TEXT=FAULT")
    return needle, name


async def _serve(
    config: SimulatorConfig, queue: list[FaultSpec], triggers: list[tuple[str, FaultSpec]]
) -> None:
    from channel_parser.simulator.server import ZaiSimulator  # aiohttp: only when used

    try:
        sim = ZaiSimulator(config)
        await sim.start()
    except OSError as exc:
        fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror}")
    sim.script(*queue)
    for needle, spec in triggers:
        sim.trigger(needle, spec)
    try:
        typer.echo(
            f"Z.AI simulator listening on {sim.base_url} (stats: {sim.root_url}/admin/stats)"
        )
        await asyncio.Event().wait()
    finally:
        await sim.stop()
