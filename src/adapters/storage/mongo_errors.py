"""Translation of PyMongo's exceptions into the application's storage errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import ConnectionFailure, PyMongoError

from channel_parser.application.errors import StorageError, StorageUnavailable

_CREDENTIALS = re.compile(r"(mongodb(?:\+srv)?://)[^@/\s]*@")


def redact(text: str) -> str:
    """Hide the user and password of any MongoDB URI inside *text*."""
    return _CREDENTIALS.sub(r"\1***@", text)


def describe(exc: BaseException) -> str:
    """One line, without credentials: the exception's type and the first line of its text."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    first = redact(first)
    if len(first) > 200:
        first = first[:200] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run a block of PyMongo calls; re-raise its errors as StorageError/StorageUnavailable."""
    try:
        yield
    except ConnectionFailure as exc:  # also NetworkTimeout, AutoReconnect, server selection
        raise StorageUnavailable(f"MongoDB unavailable while {action}: {describe(exc)}") from exc
    except PyMongoError as exc:
        raise StorageError(f"MongoDB failed while {action}: {describe(exc)}") from exc
