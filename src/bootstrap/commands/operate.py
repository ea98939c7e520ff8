"""The operator's commands on the store: process, status, requeue, reset, resume."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from dependency_injector.wiring import Provide, inject

from channel_parser.bootstrap.app import app, fail
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus

# The heavy imports (drivers, SDKs) happen inside the commands, so that --help is quick.
if TYPE_CHECKING:
    from channel_parser.application.deliveries import Deliveries
    from channel_parser.application.engine import Engine
    from channel_parser.application.use_cases.find_channel import FindChannel
    from channel_parser.application.use_cases.get_status import GetStatus, StatusReport
    from channel_parser.application.use_cases.requeue import RequeueMessages, ResetMessage
    from channel_parser.application.use_cases.resume_parsing import Resumed, ResumeParsing


@inject
async def _status(status: GetStatus = Provide["status"]) -> StatusReport:
    return await status()


@inject
async def _process(
    until_idle: bool,
    engine: Engine = Provide["engine"],
    deliveries: Deliveries = Provide["deliveries"],
    status: GetStatus = Provide["status"],
) -> StatusReport:
    import asyncio
    import contextlib
    from datetime import timedelta

    from channel_parser.bootstrap.service import run_until_signal

    delivering = asyncio.create_task(deliveries.run())  # beside parsing, never inside it
    try:
        await run_until_signal(engine, until_idle=until_idle)
    finally:
        delivering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivering
    await deliveries.drain(timedelta(seconds=10))  # what is due now; the rest stays kept
    return await status()


@inject
async def _requeue(
    statuses: list[MessageStatus],
    kinds: list[FailureKind],
    channels: tuple[str, ...],
    since: datetime | None,
    schema_changed: bool,
    requeue: RequeueMessages = Provide["requeue"],
    find: FindChannel = Provide["find_channel"],
) -> int:
    from channel_parser.application.ports.storage import MessageFilter
    from channel_parser.bootstrap.commands.results import resolve_channels

    where = MessageFilter(channels=await resolve_channels(channels, find), posted_from=since)
    return await requeue(statuses, kinds, where=where, schema_changed=schema_changed)


@inject
async def _reset(key: MessageKey, reset: ResetMessage = Provide["reset"]) -> bool:
    return await reset(key)


@inject
async def _resume(resume: ResumeParsing = Provide["resume"]) -> Resumed:
    return await resume()


@app.command()
def process(
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit 0 once nothing is due (instead of running on)."
    ),
) -> None:
    """Parse waiting posts with the configured LLM, without a Telegram listener.

    With --until-idle: work until nothing is due, then print what is left waiting
    (retries not yet due, the quota gate) and exit 0. SIGINT/SIGTERM stop it
    gracefully either way.
    """
    from channel_parser.bootstrap.render import print_status
    from channel_parser.bootstrap.runner import run_command

    report = run_command(_process, until_idle)
    print_status(report, title="Left waiting" if until_idle else "Status")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Counts per status, the retry histogram of docs/SPEC.md, the quota gate, the learned
    concurrency limit, the earliest retry and channel availability."""
    from channel_parser.bootstrap.render import print_status, status_as_dict
    from channel_parser.bootstrap.runner import run_command

    report = run_command(_status)
    if as_json:
        typer.echo(json.dumps(status_as_dict(report), ensure_ascii=False, indent=2))
    else:
        print_status(report)


@app.command()
def requeue(
    status_: list[MessageStatus] = typer.Option(
        [], "--status", help="Requeue messages in this status (repeatable): error, retry, done."
    ),
    kind: list[FailureKind] = typer.Option(
        [], "--kind", help="Requeue messages whose last failure is of this kind (repeatable)."
    ),
    schema_changed: bool = typer.Option(
        False,
        "--schema-changed",
        help="Requeue results made under another model, prompt or schema than their "
        "channel's profile now has.",
    ),
    channel: list[str] = typer.Option(
        [], "--channel", "-c", help="Only this channel: -100… id or @username (repeatable)."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only posts posted at or after this time (ISO 8601, UTC unless given).",
    ),
) -> None:
    """Put messages back to pending by status, failure kind or a changed schema (any of
    them), within --channel and --since; retry_count is removed."""
    if not status_ and not kind and not schema_changed:
        fail("say what to requeue: --status STATUS, --kind KIND and/or --schema-changed")
    if MessageStatus.PROCESSING in status_:
        fail("messages being processed cannot be requeued; stuck ones are recovered by themselves")
    from channel_parser.bootstrap.commands.results import parse_time
    from channel_parser.bootstrap.runner import run_command

    posted_from = parse_time(since, "--since")
    count = run_command(_requeue, status_, kind, tuple(channel), posted_from, schema_changed)
    typer.echo(f"requeued {count} message(s)")


@app.command()
def reset(
    message: str = typer.Argument(..., help="CHANNEL_ID/MESSAGE_ID of the message."),
) -> None:
    """Put one message back to pending and remove its retry_count (the FAQ of docs/SPEC.md).

    Channel ids are negative: put `--` before them, e.g. `reset -- -1001234567890/42`.
    """
    try:
        channel, message_id = (int(part) for part in message.split("/"))
    except ValueError:
        fail(f"expected CHANNEL_ID/MESSAGE_ID, got {message!r}")
    from channel_parser.bootstrap.runner import run_command

    if not run_command(_reset, MessageKey(channel, message_id)):
        fail(f"no message {message} that can be reset (unknown, or being processed)", code=1)
    typer.echo(f"reset {message}: pending")


@app.command()
def resume() -> None:
    """Reopen the quota gate by hand and requeue the messages it stopped."""
    from channel_parser.bootstrap.runner import run_command

    resumed = run_command(_resume)
    typer.echo(
        f"gate open (was {resumed.was}); requeued {resumed.requeued}; {resumed.backlog} waiting"
    )
