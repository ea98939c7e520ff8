"""The domain's message rules (``domain.message_rules``) as SQL conditions, so that a
statement selects exactly the rows the domain method it leads to will accept.

Statuses are written as literals (every spelling of them a store accepts, see
``domain.status.spellings``), so that the query planner sees them; times are named
parameters: ``:now``, ``:owner``.
"""

from __future__ import annotations

from collections.abc import Iterable

from channel_parser.domain.message_rules import DUE, LEASED, DueRule
from channel_parser.domain.status import MessageStatus, all_spellings


def _literals(statuses: Iterable[MessageStatus]) -> str:
    return ", ".join(f"'{spelling}'" for spelling in all_spellings(statuses))


def status_in(statuses: Iterable[MessageStatus]) -> str:
    """Rows in one of *statuses*, however a person spelled it by hand."""
    return f"processing_status IN ({_literals(statuses)})"


def due_condition(rule: DueRule = DUE) -> str:
    """Rows due at ``:now``."""
    return (
        f"(processing_status IN ({_literals(rule.at_once)}) "
        f"OR (processing_status IN ({_literals(rule.after_retry_time)}) "
        "AND (retry_after IS NULL OR retry_after <= :now)))"
    )


# Rows whose lease *owner* holds (IncomingMessage.leased_by).
HELD = f"{status_in([LEASED])} AND lease_owner = :owner"
# Rows whose lease has expired at ``:now`` (IncomingMessage.lease_expired).
EXPIRED = f"{status_in([LEASED])} AND lease_until <= :now"
# Rows not leased: the only ones a requeue accepts (IncomingMessage.requeue).
NOT_LEASED = f"NOT {status_in([LEASED])}"
# Rows whose status no spelling names: unreadable, counted apart by ``stats``.
UNKNOWN_STATUS = f"NOT {status_in(MessageStatus)}"
