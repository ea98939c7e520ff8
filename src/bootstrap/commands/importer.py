"""``channel-parser import result.json``: store the text posts of a Telegram Desktop export."""

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

    from channel_parser.adapters.telegram.export import ExportContents
    from channel_parser.application.use_cases.import_posts import ImportPosts, ImportSummary


@app.command("import")
def import_export(
    path: Annotated[Path, typer.Argument(help="The export's result.json.", show_default=False)],
    all_chats: Annotated[
        bool,
        typer.Option("--all-chats", help="Of a whole-account export, take every chat."),
    ] = False,
    timezone: Annotated[
        str,
        typer.Option(help="The zone of local dates in old exports without date_unixtime."),
    ] = "UTC",
) -> None:
    """Store the text posts of a Telegram Desktop export (idempotent: a second run adds nothing)."""
    from rich.console import Console

    from channel_parser.adapters.telegram.export import ExportFormatError, read_export

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: unknown time zone {timezone!r}")
    try:
        contents = read_export(path, all_chats=all_chats, naive_tz=zone)
    except ExportFormatError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    from channel_parser.bootstrap.runner import run_command

    summary = run_command(_store, contents)
    _report(Console(), contents, summary)


@inject
async def _store(
    contents: ExportContents, import_posts: ImportPosts = Provide["import_posts"]
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
        task = bar.add_task("import", total=len(contents.items))
        return await import_posts(
            contents.items, progress=lambda done, _total: bar.update(task, completed=done)
        )


def _report(console: Console, contents: ExportContents, summary: ImportSummary) -> None:
    from rich.table import Table

    chats = Table(title="Chats in the export")
    for column in ("chat", "id", "type", "messages", "imported"):
        chats.add_column(column)
    for chat in contents.chats:
        imported = "yes" if chat.imported else "no (not a channel)"
        chats.add_row(chat.name, str(chat.channel_id), chat.type, str(chat.messages), imported)
    console.print(chats)
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
