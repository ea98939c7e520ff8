"""How `status` looks: a rich table for people, one JSON object for scripts."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from channel_parser.application.use_cases.get_status import StatusReport
from channel_parser.domain.status import MessageStatus


def status_as_dict(report: StatusReport) -> dict[str, Any]:
    stats, gate = report.stats, report.gate
    return {
        "at": report.at.isoformat(),
        "messages": {str(s): stats.by_status.get(s, 0) for s in MessageStatus},
        "total": stats.total,
        "unreadable": stats.unreadable,
        "retry_histogram": [
            {"retry_count": count, "messages": n} for count, n in stats.retry_histogram.items()
        ],
        "errors_by_kind": stats.errors_by_kind,
        "next_retry_at": stats.next_retry_at.isoformat() if stats.next_retry_at else None,
        "retries_due_now": report.due_retries,
        "from_cache": stats.from_cache,
        "quota_gate": {
            "state": str(gate.state),
            "since": gate.since.isoformat() if gate.since else None,
            "code": gate.code,
            "reason": gate.reason or None,
            "next_probe_at": gate.probe_at.isoformat() if gate.probe_at else None,
        },
        "learned_concurrency_limit": report.learned_limit,
        "channels": [
            {
                "channel_id": c.channel_id,
                "title": c.title,
                "available": c.available,
                "reason": c.reason,
                "checked_at": c.checked_at.isoformat() if c.checked_at else None,
            }
            for c in report.channels
        ],
    }


def print_status(
    report: StatusReport, title: str = "Status", console: Console | None = None
) -> None:
    console = console or Console()
    data = status_as_dict(report)
    table = Table(title=title, show_header=True)
    table.add_column("status")
    table.add_column("messages", justify="right")
    for name, count in data["messages"].items():
        table.add_row(name, str(count))
    table.add_row("[dim]answered from cache[/dim]", str(data["from_cache"]))
    if data["unreadable"]:
        table.add_row("[red]unreadable (skipped)[/red]", str(data["unreadable"]))
    console.print(table)
    if data["retry_histogram"]:
        histogram = Table(title="Messages in retry by retry_count")
        histogram.add_column("retry_count", justify="right")
        histogram.add_column("messages", justify="right")
        for row in data["retry_histogram"]:
            histogram.add_row(str(row["retry_count"]), str(row["messages"]))
        console.print(histogram)
    if data["errors_by_kind"]:
        console.print(
            "errors by kind: " + ", ".join(f"{k} {n}" for k, n in data["errors_by_kind"].items())
        )
    gate = data["quota_gate"]
    line = f"quota gate: {gate['state']}"
    if gate["state"] != "open":
        line += f" since {gate['since']} (code {gate['code']}); next probe {gate['next_probe_at']}"
    console.print(line)
    if data["next_retry_at"]:
        due = "due now" if data["retries_due_now"] else "not yet due"
        console.print(f"earliest retry: {data['next_retry_at']} ({due})")
    limit = data["learned_concurrency_limit"]
    console.print(
        f"learned concurrency limit: {'not learned yet' if limit is None else int(limit)}"
    )
    for channel in data["channels"]:
        state = "available" if channel["available"] else f"UNAVAILABLE ({channel['reason']})"
        console.print(f"channel {channel['channel_id']} {channel['title'] or ''}: {state}")
