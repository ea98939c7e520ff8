"""`status`: each channel says how it is read, its highest stored post and when it was
last read (a quiet channel and a broken one look different); the outbox is shown."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from channel_parser.application.ports.outbox import OutboxStats
from channel_parser.application.ports.storage import ChannelInfo, ChannelMode, MessageStats
from channel_parser.application.use_cases.get_status import StatusReport
from channel_parser.bootstrap.render import print_status, status_as_dict
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.status import MessageStatus

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
READ = datetime(2026, 12, 1, 11, 59, tzinfo=UTC)


def report() -> StatusReport:
    return StatusReport(
        at=AT,
        stats=MessageStats({s: 0 for s in MessageStatus}, {}, {}, None),
        gate=QuotaGate(),
        learned_limit=None,
        channels=[
            ChannelInfo(
                -1001,
                True,
                "Jobs",
                None,
                READ,
                mode=ChannelMode.LIVE,
                read_up_to=120,
                last_read_at=READ,
            ),
            ChannelInfo(
                -1002,
                True,
                "Public",
                None,
                READ,
                mode=ChannelMode.POLLING,
                read_up_to=7,
                last_read_at=READ,
            ),
            ChannelInfo(-1003, False, None, "ChannelPrivateError: private", READ),
        ],
        highest_stored={-1001: 118, -1002: None, -1003: 40},
        outbox=OutboxStats(
            pending=2,
            delivered=5,
            failed=1,
            next_attempt_at=AT,
            last_failure="111: blocked",
            retrying=1,
        ),
    )


def test_status_json_has_each_channels_reading_and_the_outbox() -> None:
    data = status_as_dict(report())
    assert data["channels"][0] == {
        "channel_id": -1001,
        "title": "Jobs",
        "username": None,
        "available": True,
        "reason": None,
        "checked_at": READ.isoformat(),
        "read": "live",
        "highest_stored_id": 118,
        "read_up_to": 120,
        "last_read_at": READ.isoformat(),
    }
    assert data["channels"][1]["read"] == "polling"
    assert data["outbox"] == {
        "pending": 2,
        "retrying": 1,
        "delivered": 5,
        "failed": 1,
        "oldest_pending_at": None,
        "next_attempt_at": AT.isoformat(),
        "last_failure": "111: blocked",
        "by_topic": {},
    }


def test_status_for_people() -> None:
    console = Console(record=True, width=200)
    print_status(report(), console=console)
    text = console.export_text()
    assert (
        "channel -1001 Jobs: available, read live, highest stored post 118, "
        f"last read {READ.isoformat()}"
    ) in text
    assert "channel -1002 Public: available, read polling, highest stored post —" in text
    assert "channel -1003: UNAVAILABLE (ChannelPrivateError: private)" in text
    assert "notifications to deliver: 2 pending (1 being retried), 5 delivered, 1 given up" in text
    assert "last given up: 111: blocked" in text
