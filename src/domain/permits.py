"""Permits for LLM calls, shared by every worker through the store: numbered slots, each
held by one worker under a lease (a distributed semaphore whose permits expire with their
holder).

A worker runs a call only on a slot it holds whose number is below the learned limit's
permits, so the calls of all workers together stay within that limit. A slot is free when
nobody holds it or its lease has run out; a worker that dies gives its slots back when
their leases expire. Stores apply these rules atomically: SQLite runs them inside one
transaction, MongoDB translates "held" into ``until > now`` and decides races by unique
inserts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from channel_parser.domain.time import require_aware


@attrs.frozen
class PermitSlot:
    number: int = attrs.field(validator=attrs.validators.ge(0))
    owner: str
    until: datetime  # the end of the holder's lease

    def held_at(self, now: datetime) -> bool:
        return self.until > now


@attrs.frozen
class PermitTable:
    """The slots a store holds (expired ones included, until they are taken again)."""

    slots: tuple[PermitSlot, ...] = ()

    @classmethod
    def of(cls, slots: Iterable[PermitSlot]) -> PermitTable:
        return cls(tuple(sorted(slots, key=lambda slot: slot.number)))

    def held(self, now: datetime) -> list[PermitSlot]:
        now = require_aware(now)
        return [slot for slot in self.slots if slot.held_at(now)]

    def held_by(self, owner: str, now: datetime) -> frozenset[int]:
        return frozenset(slot.number for slot in self.held(now) if slot.owner == owner)

    def held_by_others(self, owner: str, now: datetime) -> int:
        return sum(1 for slot in self.held(now) if slot.owner != owner)

    def free(self, permits: int, now: datetime) -> list[int]:
        """Slot numbers below *permits* that nobody holds at *now*, lowest first."""
        taken = {slot.number for slot in self.held(now)}
        return [number for number in range(permits) if number not in taken]

    def take(
        self, owner: str, want: int, permits: int, now: datetime, until: datetime
    ) -> tuple[PermitTable, list[PermitSlot]]:
        """Up to *want* free slots below *permits* for *owner*, leased until *until*; the
        slots it already holds are renewed too. Returns the new table and the new slots."""
        now, until = require_aware(now), require_aware(until)
        new = [PermitSlot(n, owner, until) for n in self.free(permits, now)[: max(want, 0)]]
        numbers = {slot.number for slot in new}
        kept = [
            PermitSlot(slot.number, owner, until)
            if slot.owner == owner and slot.held_at(now)
            else slot
            for slot in self.slots
            if slot.number not in numbers
        ]
        return PermitTable.of([*kept, *new]), new

    def give_back(self, owner: str, numbers: Iterable[int]) -> PermitTable:
        """*owner*'s slots among *numbers* are free again (others' are untouched)."""
        returned = set(numbers)
        return PermitTable(
            tuple(s for s in self.slots if not (s.owner == owner and s.number in returned))
        )
