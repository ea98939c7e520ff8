"""``channel-parser demo``: the main job on the embedded default, with no settings at all."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from channel_parser.bootstrap.app import app, run_async
from channel_parser.bootstrap.demo import SAMPLE_EXPORT
from channel_parser.domain.status import MessageStatus

if TYPE_CHECKING:
    from rich.console import Console

    from channel_parser.bootstrap.demo_run import DemoResult


@app.command()
def demo(
    keep: bool = typer.Option(False, "--keep", help="Keep the demo's SQLite file afterwards."),
    export: Path = typer.Option(
        SAMPLE_EXPORT, "--export", help="A Telegram Desktop result.json to use instead."
    ),
) -> None:
    """Run the main job on the embedded default: the bundled sample export, SQLite in a
    temporary folder, and a built-in Z.AI simulator whose hidden concurrency limit is
    small and whose balance runs out midway and is topped up. Needs no settings."""
    from rich.console import Console

    from channel_parser.bootstrap.demo_run import run_demo

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s - %(message)s")
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="channel-parser-demo-"))
    try:
        result = run_async(run_demo(console, workdir, export))
    finally:
        if not keep:
            for path in sorted(workdir.glob("*"), reverse=True):
                path.unlink(missing_ok=True)
            workdir.rmdir()
    _summary(console, result)
    if result.example is not None:
        from channel_parser.bootstrap.render import print_post

        where = f"{result.example['channel_id']}/{result.example['message_id']}"
        console.print(f"\n[bold]One parsed post[/bold] (channel-parser show -- {where}):\n")
        print_post(result.example, console)
    if keep:
        console.print(
            f"\nkept: {workdir / 'demo.sqlite3'} (try: SQLITE_PATH=… channel-parser export, "
            "or … status)"
        )


def _summary(console: Console, result: DemoResult) -> None:
    from rich.table import Table

    by = result.stats.by_status
    table = Table(title="Demo summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("posts imported", result.imported.stored),
        ("done", by[MessageStatus.DONE]),
        ("retry", by[MessageStatus.RETRY]),
        ("error", by[MessageStatus.ERROR]),
        ("answered from cache (reposts)", result.stats.from_cache),
        ("1302 refusals seen (concurrency)", result.refusals.get("1302", 0)),
        ("1113 refusals seen (balance empty)", result.refusals.get("1113", 0)),
        ("peak calls in flight at the provider", result.peak_in_flight),
        ("concurrency limit learned (hidden: 4)", result.learned_limit),
        ("notifications sent", result.notifications_sent),
        ("notifications suppressed by the throttle", result.notifications_suppressed),
        ("LLM calls / tokens used", f"{result.usage.calls} / {result.usage.total_tokens:,}"),
        ("seconds", f"{result.seconds:.1f}"),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)
