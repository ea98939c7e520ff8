"""How `status` looks: a rich table for people, one JSON object for scripts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from channel_parser.application.use_cases.get_status import StatusReport
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage, TokenPrices


def usage_as_dict(usage: LLMUsage, prices: TokenPrices | None) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "calls": usage.calls,
        "llm_seconds": round(usage.seconds, 3),
        "estimated_cost": None if prices is None else round(prices.cost(usage), 6),
    }


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
        "llm_usage": {
            "total": usage_as_dict(report.usage_total, report.prices),
            "last_24h": usage_as_dict(report.usage_last_day, report.prices),
            "prices_per_million_tokens": None
            if report.prices is None
            else {
                "input": report.prices.input_per_mtok,
                "output": report.prices.output_per_mtok,
            },
        },
        "channels": [
            {
                "channel_id": c.channel_id,
                "title": c.title,
                "username": c.username,
                "available": c.available,
                "reason": c.reason,
                "checked_at": _iso(c.checked_at),
                "read": str(c.mode) if c.mode else None,  # live / polling
                "highest_stored_id": report.highest_stored.get(c.channel_id),
                "read_up_to": c.read_up_to,
                "last_read_at": _iso(c.last_read_at),
            }
            for c in report.channels
        ],
        "outbox": {
            "pending": report.outbox.pending,
            "retrying": report.outbox.retrying,
            "delivered": report.outbox.delivered,
            "failed": report.outbox.failed,
            "oldest_pending_at": _iso(report.outbox.oldest_pending_at),
            "next_attempt_at": _iso(report.outbox.next_attempt_at),
            "last_failure": report.outbox.last_failure,
            "by_topic": {
                topic: {
                    "pending": counts.pending,
                    "retrying": counts.retrying,
                    "delivered": counts.delivered,
                    "failed": counts.failed,
                }
                for topic, counts in report.outbox.by_topic.items()
            },
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


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
    usage = data["llm_usage"]
    for label, spent in (("in all", usage["total"]), ("last 24 h", usage["last_24h"])):
        cost = spent["estimated_cost"]
        console.print(
            f"LLM usage {label}: {spent['total_tokens']:,} tokens (prompt "
            f"{spent['prompt_tokens']:,}, completion {spent['completion_tokens']:,}) in "
            f"{spent['calls']:,} calls" + ("" if cost is None else f"; estimated cost {cost:,.4f}")
        )
    if usage["prices_per_million_tokens"] is None:
        console.print(
            "[dim]set LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK for costs[/dim]"
        )
    for channel in data["channels"]:
        console.print(_channel_line(channel), markup=False, highlight=False)
    box = data["outbox"]
    line = (
        f"notifications to deliver: {box['pending']} pending"
        f" ({box['retrying']} being retried), {box['delivered']} delivered,"
        f" {box['failed']} given up (last 7 days)"
    )
    if box["next_attempt_at"]:
        line += f"; next try {box['next_attempt_at']}"
    console.print(line, markup=False, highlight=False)
    if box["last_failure"]:
        console.print(f"last given up: {box['last_failure']}", markup=False, highlight=False)
    for topic, counts in box["by_topic"].items():
        if topic.startswith("result:"):
            console.print(
                f"results to route {topic.removeprefix('result:')}: {counts['pending']} pending"
                f" ({counts['retrying']} failing, being retried), {counts['delivered']} "
                f"delivered, {counts['failed']} given up",
                markup=False,
                highlight=False,
            )


def _channel_line(channel: dict[str, Any]) -> str:
    name = f"channel {channel['channel_id']} {channel['title'] or ''}".rstrip()
    if not channel["available"]:
        return f"{name}: UNAVAILABLE ({channel['reason']})"
    read = channel["read"] or "not read yet"
    highest = channel["highest_stored_id"]
    parts = [f"read {read}", f"highest stored post {highest if highest is not None else '—'}"]
    if channel["last_read_at"]:
        parts.append(f"last read {channel['last_read_at']}")
    return f"{name}: available, " + ", ".join(parts)


def print_post(data: dict[str, Any], console: Console | None = None) -> None:
    """One post (a record of bootstrap.records) for people."""
    console = console or Console()
    where = f"{data['channel_id']}/{data['message_id']}"
    names = " ".join(
        part
        for part in (
            f"@{data['channel_username']}" if data["channel_username"] else "",
            f"«{data['channel_title']}»" if data["channel_title"] else "",
        )
        if part
    )
    console.print(f"[bold]post {where}[/bold] {names}".rstrip(), highlight=False)
    if data["link"]:
        console.print(data["link"], highlight=False)
    rows = [
        ("status", data["status"]),
        ("retry_count", data["retry_count"]),
        ("retry_after", data["retry_after"] or "-"),
        ("posted", data["posted_at"] or "-"),
        ("received", data["received_at"]),
        ("edited", data["edited_at"] or "-"),
        ("parsed", data["parsed_at"] or "-"),
    ]
    table = Table(show_header=False, box=None)
    for name, value in rows:
        table.add_row(name, str(value))
    error = data["error"]
    if error is not None:
        table.add_row(
            "last error",
            f"{error['kind']} (code {error['code']}) at {error['at']}: {error['message']}",
        )
    if data["parsed_at"] or data["llm_calls"]:
        table.add_row("model", str(data["model"] or "-"))
        if data.get("profile"):
            table.add_row("profile", f"{data['profile']} (prompt and schema {data['spec_hash']})")
        table.add_row(
            "tokens",
            f"{data['total_tokens']:,} (prompt {data['prompt_tokens']:,}, completion "
            f"{data['completion_tokens']:,}) in {data['llm_calls']} call(s), "
            f"{data['llm_seconds']} s" + (" [from the repost cache]" if data["from_cache"] else ""),
        )
    console.print(table)
    console.print("[bold]text[/bold]")
    console.print(data["text"], highlight=False, markup=False)
    if data["result"] is not None:
        console.print("[bold]result[/bold]")
        console.print(
            json.dumps(data["result"], ensure_ascii=False, indent=2), highlight=False, markup=False
        )
