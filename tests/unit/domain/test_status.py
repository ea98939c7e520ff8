"""Statuses as stored, and the spellings of them a person editing the database may use."""

from __future__ import annotations

import pytest

from channel_parser.domain.status import MessageStatus, all_spellings, parse_status, spellings


def test_a_status_reads_in_lowercase_uppercase_and_capitalised() -> None:
    assert spellings(MessageStatus.PENDING) == ("pending", "PENDING", "Pending")
    for status in MessageStatus:
        assert {parse_status(s) for s in spellings(status)} == {status}


@pytest.mark.parametrize("raw", ["PeNdInG", "queued", "", " pending", None, 1, ["pending"]])
def test_anything_else_is_unreadable(raw: object) -> None:
    with pytest.raises(ValueError, match="not a message status"):
        parse_status(raw)


def test_all_spellings_of_several_statuses() -> None:
    spelled = all_spellings({MessageStatus.RETRY, MessageStatus.PENDING})
    assert spelled == ("pending", "PENDING", "Pending", "retry", "RETRY", "Retry")
