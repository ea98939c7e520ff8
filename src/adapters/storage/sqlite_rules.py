"""The domain's message rules (``domain.message_rules``) as SQL conditions, so that a
statement selects exactly the rows the domain method it leads to will accept.

Statuses are written as literals (every spelling of them a store accepts, see
``domain.status.spellings``), so that the query planner sees them; times are named
parameters: ``:now``, ``:owner``.
"""

from __future__ import annotations

from collections.abc import Iterable

from channel_parser.adapters.storage.sqlite_db import fmt
from channel_parser.application.ports.storage import MessageFilter
from channel_parser.domain.message_rules import DUE, LEASED, DueRule
from channel_parser.domain.status import MessageStatus, all_spellings


def _literals(statuses: Iterable[MessageStatus]) -> str:
    return ", ".join(f"'{spelling}'" for spelling in all_spellings(statuses))


def status_in(statuses: Iterable[MessageStatus]) -> str:
    """Rows in one of *statuses*, however a person spelled it by hand."""
    return f"processing_status IN ({_literals(statuses)})"


CLAIM_ORDER = "received_at, channel_id, message_id"


def oldest_due(rule: DueRule = DUE, extra: str = "1") -> list[str]:
    """Queries whose answers hold the oldest row due at ``:now`` (and meeting *extra*):
    the oldest of them (by ``CLAIM_ORDER``, which each returns) is the one to claim. One
    query per status spelling, each an index walk that stops at its first row: the
    ``status_age`` index in claim order for a status due at once, the ``status_due`` index
    for a status due after its retry time (only those whose time has come are read,
    however many wait). One ``ORDER BY`` over the whole due rule would sort every due row
    at each claim (38 ms a claim with 100 000 pending), and one query joining these with
    UNION ALL costs ten times their sum (SQLite copies every row through each layer)."""
    parts = [
        f"SELECT {CLAIM_ORDER} FROM incoming_messages INDEXED BY status_age "
        f"WHERE processing_status = '{spelled}' AND {extra} ORDER BY {CLAIM_ORDER} LIMIT 1"
        for spelled in all_spellings(rule.at_once)
    ]
    for spelled in all_spellings(rule.after_retry_time):
        for when in ("retry_after <= :now", "retry_after IS NULL"):
            parts.append(
                f"SELECT {CLAIM_ORDER} FROM incoming_messages INDEXED BY status_due "
                f"WHERE processing_status = '{spelled}' AND {when} AND {extra} "
                f"ORDER BY {CLAIM_ORDER} LIMIT 1"
            )
    return parts


# Rows whose lease *owner* holds (IncomingMessage.leased_by).
HELD = f"{status_in([LEASED])} AND lease_owner = :owner"
# Rows whose lease has expired at ``:now`` (IncomingMessage.lease_expired).
EXPIRED = f"{status_in([LEASED])} AND lease_until <= :now"
# Rows not leased: the only ones a requeue accepts (IncomingMessage.requeue).
NOT_LEASED = f"NOT {status_in([LEASED])}"
# Rows whose status no spelling names: unreadable, counted apart by ``stats``.
UNKNOWN_STATUS = f"NOT {status_in(MessageStatus)}"


def filter_condition(
    where: MessageFilter, *, status_index: bool = False
) -> tuple[str, dict[str, object]]:
    """A query's filter as a condition and its named parameters (``:c0``…,
    ``:posted_from``, ``:posted_until``); "1" when it selects everything. Post times are
    stored as fixed-width UTC text, so text order is time order; a post without a time
    never matches a time bound.

    The status test is written ``+processing_status`` unless *status_index*: the unary
    plus keeps SQLite from walking a status index and sorting every match for each page
    (a page in key order must walk the primary key, or a keyset export is quadratic)."""
    parts: list[str] = []
    args: dict[str, object] = {}
    if where.status is not None:  # (every spelling, as literals: see status_in)
        parts.append(f"{'' if status_index else '+'}{status_in([where.status])}")
    if where.channels:
        channels = {f"c{i}": channel for i, channel in enumerate(sorted(where.channels))}
        parts.append(f"channel_id IN ({', '.join(':' + name for name in channels)})")
        args.update(channels)
    if where.posted_from is not None:
        parts.append("posted_at >= :posted_from")
        args["posted_from"] = fmt(where.posted_from)
    if where.posted_until is not None:
        parts.append("posted_at < :posted_until")
        args["posted_until"] = fmt(where.posted_until)
    return " AND ".join(parts) or "1", args
