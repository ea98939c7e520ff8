"""``channel-parser import result.json``: store the text posts of a Telegram Desktop export.

The file is streamed (read twice: checked whole, then stored in batches), so an export of
hundreds of megabytes takes little memory; a malformed file stores nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from dependency_injector.wiring import Provide, inject

from channel_parser.bootstrap.app import app, fail

# The heavy imports happen inside the command, so that --help is quick.
if TYPE_CHECKING:
    from rich.console import Console

    from channel_parser.adapters.telegram.export import ExportChat, ExportReader
    from channel_parser.application.use_cases.import_posts import ImportPosts, ImportSummary


@app.command("import")
def import_export(
    path: Annotated[Path, typer.Argument(help="The export's result.json.", show_default=False)],
    groups: Annotated[
        bool,
        typer.Option("--groups", help="Of a whole-account export, take groups and supergroups."),
    ] = False,
    chat: Annotated[
        list[str],
        typer.Option(
            "--chat",
            help="Of a whole-account export, take only this chat, by name or id (repeatable).",
        ),
    ] = [],  # noqa: B006 (Typer reads the default; it is never changed)
    all_chats: Annotated[
        bool,
        typer.Option("--all-chats", help="Of a whole-account export, take every chat."),
    ] = False,
    timezone: Annotated[
        str,
        typer.Option(help="The zone of local dates in old exports without date_unixtime."),
    ] = "UTC",
) -> None:
    """Store the text posts of a Telegram Desktop export (idempotent: a second run adds
    nothing). Of a whole-account export only channels are taken unless told otherwise."""
    from rich.console import Console

    from channel_parser.adapters.telegram.export import ChatChoice, ExportFormatError, ExportReader

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: unknown time zone {timezone!r}")
    choice = ChatChoice.of(groups=groups, all_chats=all_chats, chats=chat)
    reader = ExportReader(path, choice, naive_tz=zone)
    try:
        chats = reader.scan()
    except ExportFormatError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    if chat and not any(c.imported for c in chats):
        fail(f"--chat: no chat of {path} is named {', '.join(map(repr, chat))}")
    from channel_parser.bootstrap.runner import run_command

    try:
        summary = run_command(_store, reader)
    except (ExportFormatError, OSError) as exc:  # the file changed between the two reads
        fail(f"{path}: {exc}")
    _report(Console(), chats, summary)


@inject
async def _store(
    reader: ExportReader, import_posts: ImportPosts = Provide["import_posts"]
) -> ImportSummary:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=reader.total)
        return await import_posts(
            reader.items(), progress=lambda done: bar.update(task, completed=done)
        )


def _report(console: Console, chats: list[ExportChat], summary: ImportSummary) -> None:
    from rich.table import Table

    table = Table(title="Chats in the export")
    for column in ("chat", "id", "type", "messages", "imported"):
        table.add_column(column)
    for each in chats:
        imported = "yes" if each.imported else f"no ({each.left_out})"
        table.add_row(each.name, str(each.channel_id), each.type, str(each.messages), imported)
    console.print(table)
    table = Table(title="Import summary")
    table.add_column("outcome")
    table.add_column("posts", justify="right")
    table.add_row("stored (new)", str(summary.stored))
    table.add_row("already there", str(summary.already_there))
    table.add_row("updated (text changed, not parsed yet)", str(summary.updated))
    if summary.requeued:
        table.add_row("edited after parsing: to be parsed again", str(summary.requeued))
    for reason, count in summary.skipped.items():
        table.add_row(f"skipped: {reason}", str(count))
    console.print(table)
