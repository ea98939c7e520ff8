"""Where ``export`` writes: the three formats, a file written atomically, and standard
output that may be a pipe its reader closes (``export --follow | head -1``)."""

from __future__ import annotations

import contextlib
import csv
import enum
import json
import os
import select
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from channel_parser.bootstrap.records import csv_columns, csv_row


class ExportFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    JSON = "json"


class RecordWriter(Protocol):
    def begin(self) -> None: ...

    def write(self, data: dict[str, Any]) -> None: ...

    def end(self) -> None: ...


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class JsonLinesWriter:
    """One JSON object a line."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def begin(self) -> None:
        pass

    def write(self, data: dict[str, Any]) -> None:
        self._out.write(_json(data) + "\n")

    def end(self) -> None:
        pass


class JsonArrayWriter:
    """One JSON array, streamed: ``[`` first, a record a line, ``]`` at the end (also when
    a follower is stopped, so what was written is a whole document)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._first = True

    def begin(self) -> None:
        self._out.write("[")

    def write(self, data: dict[str, Any]) -> None:
        self._out.write(("\n" if self._first else ",\n") + _json(data))
        self._first = False

    def end(self) -> None:
        self._out.write("]\n" if self._first else "\n]\n")


class CsvWriter:
    """A header, then a row a record (the result's fields as columns, see records)."""

    def __init__(self, out: IO[str], result_fields: Sequence[str]) -> None:
        self._fields = list(result_fields)
        self._csv = csv.DictWriter(out, fieldnames=csv_columns(self._fields))

    def begin(self) -> None:
        self._csv.writeheader()

    def write(self, data: dict[str, Any]) -> None:
        self._csv.writerow(csv_row(data, self._fields))

    def end(self) -> None:
        pass


def make_writer(fmt: ExportFormat, out: IO[str], result_fields: Sequence[str]) -> RecordWriter:
    if fmt is ExportFormat.CSV:
        return CsvWriter(out, result_fields)
    if fmt is ExportFormat.JSON:
        return JsonArrayWriter(out)
    return JsonLinesWriter(out)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A temporary file beside *path*, renamed to it only when the block ends well (after
    an fsync): a failed or interrupted export leaves no half file, and an earlier file of
    that name stays as it was."""
    folder = path.parent if str(path.parent) else Path()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def standard_output() -> Iterator[IO[str]]:
    """UTF-8 text on standard output whatever the locale, CSV-ready (no newline
    translation); the underlying stream is left open."""
    out = open(  # noqa: SIM115 - closed below without closing fd 1
        sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False
    )
    try:
        yield out
    finally:
        with contextlib.suppress(BrokenPipeError, ValueError):
            out.flush()
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            out.close()


def reader_gone(fd: int) -> bool:
    """True when *fd* is a pipe whose reading end was closed (Linux reports POLLERR on the
    writing end): how an idle follower notices that ``head`` has exited."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll() here: find out on a write
        return False


def silence_stdout() -> None:
    """Point fd 1 at /dev/null, so that the interpreter's last flush of a stdout whose
    reader is gone raises nothing at exit."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
