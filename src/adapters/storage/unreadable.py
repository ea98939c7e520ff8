"""Stored records the code cannot read (a document edited by hand into a shape it does
not know): each is skipped with one WARNING naming it, never an error that stops the
service. ``status`` counts those whose status it cannot read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

REMEMBERED = 10_000  # keys kept to skip and to warn once about; beyond that, warned again


class UnreadableRecords(Generic[K]):
    """The keys of records found unreadable by this process, to skip them and to say so
    once each."""

    def __init__(self, what: str) -> None:
        self._what = what
        self.keys: set[K] = set()

    def read(self, key: K, name: str, record: R, read: Callable[[R], T]) -> T | None:
        """``read(record)``, or None (after one WARNING naming the record) when it fails."""
        try:
            return read(record)
        except Exception as exc:
            self.skip(key, name, exc)
            return None

    def skip(self, key: K, name: str, exc: Exception) -> None:
        if key in self.keys:
            return
        if len(self.keys) < REMEMBERED:
            self.keys.add(key)
        log.warning(
            "skipping %s %s: it cannot be read (%s: %s); fix or delete it by hand",
            self._what,
            name,
            type(exc).__name__,
            str(exc)[:300],
        )
