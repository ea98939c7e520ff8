"""Results out: ``export`` (JSON Lines, CSV, a JSON array; filters; ``--follow``) and
``show CHANNEL/ID``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import attrs
import typer
from dependency_injector.wiring import Provide, inject

from channel_parser.application.errors import StorageError
from channel_parser.bootstrap.app import app, fail
from channel_parser.bootstrap.config_file import channel_ref
from channel_parser.bootstrap.export_output import ExportFormat
from channel_parser.bootstrap.signals import on_stop_signals
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus

if TYPE_CHECKING:
    from channel_parser.application.use_cases.export_results import ExportResults
    from channel_parser.application.use_cases.find_channel import FindChannel
    from channel_parser.application.use_cases.show_message import ShowMessage
    from channel_parser.bootstrap.settings import Settings

EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM before a plain export finished: nothing kept
PIPE_CHECK_SECONDS = 0.25  # how often an idle follower looks whether its reader left


class Interrupted(Exception):
    """A signal stopped an export that was not following: what it wrote is incomplete."""


@attrs.frozen
class ExportOptions:
    fmt: ExportFormat
    channels: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    status: MessageStatus
    follow: bool
    output: Path | None


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 date or time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"{option}: expected an ISO 8601 date or time (2026-01-25, 2026-01-25T18:00Z), "
            f"got {value!r}"
        )
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


async def resolve_channels(refs: tuple[str, ...], find: FindChannel) -> frozenset[int]:
    ids: set[int] = set()
    for ref in refs:
        try:
            wanted = channel_ref(ref)  # the config file's rule: one spelling of a channel
        except ValueError as exc:
            fail(f"--channel: {exc}")
        if isinstance(wanted, int):
            ids.add(wanted)
            continue
        found = await find(wanted)
        if found is None:
            fail(
                f"--channel {ref}: no channel @{wanted} is known (usernames are learnt when "
                "`run` reads a channel); give its id (-100…)"
            )
        ids.add(found)
    return frozenset(ids)


async def _watch_reader(stop: asyncio.Event) -> None:
    """Stop an idle follower whose standard output's reader has gone."""
    from channel_parser.bootstrap.export_output import reader_gone

    while not stop.is_set():
        if reader_gone(sys.stdout.fileno()):
            stop.set()
            return
        await asyncio.sleep(PIPE_CHECK_SECONDS)


@inject
async def _export(
    options: ExportOptions,
    export: ExportResults = Provide["export"],
    find: FindChannel = Provide["find_channel"],
    settings: Settings = Provide["settings"],
) -> int:
    """Write the records; returns how many. Raises Interrupted (plain export stopped by a
    signal) and BrokenPipeError (the reader of standard output left)."""
    from channel_parser.application.ports.storage import MessageFilter
    from channel_parser.bootstrap.export_output import atomic_file, make_writer, standard_output
    from channel_parser.bootstrap.records import record, result_fields

    fields: list[str] = []
    if options.fmt is ExportFormat.CSV:  # the columns come from the operator's schemas
        from channel_parser.bootstrap.config_file import load_config_file
        from channel_parser.bootstrap.profiles import parser_profiles

        loaded = parser_profiles(settings, load_config_file(settings.config_file))
        for spec in loaded.specs.values():  # the default profile's first, then the others'
            fields += [name for name in result_fields(spec.schema) if name not in fields]
    where = MessageFilter(
        options.status,
        await resolve_channels(options.channels, find),
        options.since,
        options.until,
    )
    stop = asyncio.Event()
    opened = standard_output() if options.output is None else atomic_file(options.output)
    watcher = None
    if options.follow and options.output is None:
        watcher = asyncio.create_task(_watch_reader(stop))
    count = 0
    try:
        with on_stop_signals(lambda _sig: stop.set()), opened as out:
            writer = make_writer(options.fmt, out, fields)
            writer.begin()
            async with contextlib.aclosing(
                export(where, follow=options.follow, stop=stop)
            ) as posts:
                async for post in posts:
                    writer.write(record(post))
                    count += 1
                    if options.follow:
                        out.flush()  # the next program in the pipe gets each result at once
                    elif stop.is_set():
                        raise Interrupted
            if stop.is_set() and not options.follow:
                raise Interrupted
            writer.end()
    finally:
        if watcher is not None:
            watcher.cancel()
    return count


@app.command()
def export(
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="jsonl (one record a line), csv or json (an array)."),
    ] = ExportFormat.JSONL,
    channel: Annotated[
        list[str],
        typer.Option(
            "--channel", "-c", help="Only this channel: -100… id or @username (repeatable)."
        ),
    ] = [],  # noqa: B006 - Typer's idiom for a repeatable option
    since: Annotated[
        str | None, typer.Option(help="Only posts published at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only posts published before this time (ISO 8601).")
    ] = None,
    status_: Annotated[
        MessageStatus,
        typer.Option("--status", help="done (parsed), error (with the last error), pending, …"),
    ] = MessageStatus.DONE,
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Then keep printing newly parsed posts as they are stored."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (atomically: all of it or nothing)."),
    ] = None,
) -> None:
    """Print the stored results: one record a post, with its channel, message id, link,
    post time, text, result, when and by which model it was parsed, the tokens it took and
    whether it came from the repost cache.

    Streams from the store (memory does not grow with the number of posts). With --follow,
    stops cleanly on SIGINT/SIGTERM and when the reader of a pipe leaves.
    """
    if follow and status_ is not MessageStatus.DONE:
        fail("--follow prints parsed posts only: use it with --status done")
    options = ExportOptions(
        fmt,
        tuple(channel),
        parse_time(since, "--since"),
        parse_time(until, "--until"),
        status_,
        follow,
        output,
    )
    from channel_parser.bootstrap.export_output import silence_stdout
    from channel_parser.bootstrap.runner import run_command

    try:
        count = run_command(_export, options)
    except BrokenPipeError:  # the reader has what it wanted (| head): not an error
        silence_stdout()
        return
    except Interrupted:
        kept = "" if output is None else f"; {output} not written"
        fail(f"export interrupted{kept}", code=EXIT_INTERRUPTED)
    except OSError as exc:  # the output file or its folder
        fail(f"--output {output}: {exc.strerror or exc}")
    except StorageError as exc:  # (an unreachable store ends in run_async: exit 3)
        kept = "" if output is None else f"; {output} not written"
        fail(f"storage failed: {exc}{kept}", code=3)
    if output is not None:
        typer.echo(f"exported {count} record(s) to {output}", err=True)


# -- show -----------------------------------------------------------------------------


def parse_post_ref(value: str) -> tuple[int | str, int]:
    """``-100…/42`` or ``@name/42``."""
    channel, _, message = value.rpartition("/")
    try:
        message_id = int(message)
    except ValueError:
        fail(f"expected CHANNEL/ID (-1001234567890/42 or @username/42), got {value!r}")
    if not channel:
        fail(f"expected CHANNEL/ID (-1001234567890/42 or @username/42), got {value!r}")
    try:
        return channel_ref(channel), message_id
    except ValueError:
        fail(f"expected CHANNEL/ID (-1001234567890/42 or @username/42), got {value!r}")


@inject
async def _show(
    ref: tuple[int | str, int],
    show: ShowMessage = Provide["show"],
    find: FindChannel = Provide["find_channel"],
) -> dict[str, object] | None:
    from channel_parser.bootstrap.records import record

    channel, message_id = ref
    if isinstance(channel, str):
        found = await find(channel)
        if found is None:
            fail(f"no channel @{channel} is known; give its id (-100…)", code=1)
        channel = found
    post = await show(MessageKey(channel, message_id))
    return None if post is None else record(post)


@app.command()
def show(
    post: Annotated[str, typer.Argument(help="CHANNEL/ID: -1001234567890/42 or @username/42.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One post: its text, status, retry_count and retry_after, the last error (kind, code,
    message), the result and what it cost.

    Channel ids are negative: put `--` before them, e.g. `show -- -1001234567890/42`.
    """
    from channel_parser.bootstrap.render import print_post
    from channel_parser.bootstrap.runner import run_command

    found = run_command(_show, parse_post_ref(post))
    if found is None:
        fail(f"no message {post}", code=1)
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        print_post(found)
