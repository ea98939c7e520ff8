"""SQLiteMessageRepository: the ``incoming_messages`` table.

Every change of state is the domain's own method, run on the row read inside the same
``BEGIN IMMEDIATE`` transaction (which holds the write lock): SQL only selects the rows,
by the domain's rules translated in sqlite_rules (ADR 0010)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

import attrs

from channel_parser.adapters.storage.sqlite_db import SQLiteDatabase, fmt, immediate, parse_opt
from channel_parser.adapters.storage.sqlite_rows import (
    COLUMNS,
    STATE_COLUMNS,
    columns_of,
    from_row,
    to_row,
)
from channel_parser.adapters.storage.sqlite_rules import (
    EXPIRED,
    HELD,
    NOT_LEASED,
    UNKNOWN_STATUS,
    filter_condition,
    oldest_due,
    status_in,
)
from channel_parser.adapters.storage.unreadable import UnreadableRecords
from channel_parser.application.ports.storage import (
    IngestOutcome,
    MessageFilter,
    MessageStats,
    NewPost,
    StaleResults,
    requeue_selects,
)
from channel_parser.domain.errors import InvalidTransition
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EditRule, claim_changes
from channel_parser.domain.status import MessageStatus, all_spellings, parse_status

_INSERT = (
    f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in COLUMNS)}) ON CONFLICT DO NOTHING"
)
_KEY = "channel_id = :channel_id AND message_id = :message_id"
_GET = f"SELECT * FROM incoming_messages WHERE {_KEY}"
# What to ask for the oldest due row (outside the excluded channels and the rows found
# unreadable): the oldest of these queries' answers.
_CANDIDATES = oldest_due(
    extra="channel_id NOT IN ({excluded}) AND (channel_id, message_id) NOT IN ({skipped})"
)
# Save: only while the lease is still the writer's.
_SAVE = (
    f"UPDATE incoming_messages SET {', '.join(c + ' = :' + c for c in STATE_COLUMNS)} "
    f"WHERE {_KEY} AND {HELD}"
)
# The stored state is already the one a save writes (``IS``: NULL equals NULL).
_SAVED = (
    f"SELECT 1 FROM incoming_messages WHERE {_KEY} AND "
    f"{' AND '.join(c + ' IS :' + c for c in STATE_COLUMNS)}"
)
# A claim writes only what claiming changes (every other column's indexes stay as they
# are, which halves what a claim's commit writes).
_CLAIMED_COLUMNS = columns_of(claim_changes("-", datetime(2000, 1, 1, tzinfo=UTC), timedelta(1)))
_CLAIM = (
    f"UPDATE incoming_messages SET {', '.join(c + ' = :' + c for c in _CLAIMED_COLUMNS)} "
    f"WHERE {_KEY}"
)
# Write back what a domain method changed on a row read in the same transaction.
_REWRITE = (
    f"UPDATE incoming_messages SET text = :text, "
    f"{', '.join(c + ' = :' + c for c in STATE_COLUMNS)} WHERE {_KEY}"
)
_PAGE = 500  # rows read at once by a bulk requeue


def _rewrite(conn: sqlite3.Connection, message: IncomingMessage) -> None:
    conn.execute(_REWRITE, to_row(message))


def _named(prefix: str, values: Collection[object]) -> dict[str, object]:
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def _marks(names: dict[str, object]) -> str:
    return ", ".join(":" + name for name in names)


Key = tuple[int, int]


def _pairs(keys: Collection[Key]) -> tuple[str, dict[str, object]]:
    """An SQL list of row values for *keys*, and its parameters."""
    args: dict[str, object] = {}
    for i, (channel, message) in enumerate(keys):
        args[f"kc{i}"], args[f"km{i}"] = channel, message
    values = ", ".join(f"(:kc{i}, :km{i})" for i in range(len(keys)))
    return (f"VALUES {values}" if keys else "SELECT NULL, NULL WHERE 0"), args


class SQLiteMessageRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._unreadable: UnreadableRecords[Key] = UnreadableRecords("message")

    def _read(self, row: sqlite3.Row) -> IncomingMessage | None:
        """The row's message, or None (one WARNING naming it) when it cannot be read."""
        key = (row["channel_id"], row["message_id"])
        return self._unreadable.read(key, f"{key[0]}/{key[1]}", row, from_row)

    async def add(
        self, post: NewPost, now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> IngestOutcome:
        [outcome] = await self.add_many([post], now, edits)
        return outcome

    async def add_many(
        self, posts: Sequence[NewPost], now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> list[IngestOutcome]:
        """Every post in one transaction (one fsync for a whole batch of an import)."""
        rows = [(post, to_row(post.to_message(now))) for post in posts]

        def work(conn: sqlite3.Connection) -> list[IngestOutcome]:
            with immediate(conn):
                return [self._add(conn, post, row, now, edits) for post, row in rows]

        return await self._db.run(work, "storing a post" if len(rows) == 1 else "storing posts")

    def _add(
        self,
        conn: sqlite3.Connection,
        post: NewPost,
        row: dict[str, object],
        now: datetime,
        edits: EditRule,
    ) -> IngestOutcome:
        """Insert the post; a post stored before takes the new text only as the domain's
        edit_text and *edits* allow (in place, or queued to be parsed again)."""
        if conn.execute(_INSERT, row).rowcount == 1:
            return IngestOutcome.STORED
        stored = self._read(conn.execute(_GET, row).fetchone())
        if stored is None:
            return IngestOutcome.UNCHANGED
        requeued = edits.requeues(stored.status)
        if not stored.edit_text(post.text, now, edits):
            return IngestOutcome.UNCHANGED
        _rewrite(conn, stored)
        return IngestOutcome.REQUEUED if requeued else IngestOutcome.UPDATED

    async def get(self, key: MessageKey) -> IncomingMessage | None:
        args = {"channel_id": key.channel_id, "message_id": key.message_id}

        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            row = conn.execute(_GET, args).fetchone()
            return None if row is None else self._read(row)

        return await self._db.run(work, "reading a message")

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        excluded = _named("x", exclude_channels)

        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            with immediate(conn):
                while True:  # each unreadable row is skipped once and for all: it ends
                    skipped, pairs = _pairs(self._unreadable.keys)
                    args = {"now": fmt(now), **excluded, **pairs}
                    found = [
                        conn.execute(
                            query.format(excluded=_marks(excluded), skipped=skipped), args
                        ).fetchone()
                        for query in _CANDIDATES
                    ]
                    oldest = min((tuple(key) for key in found if key is not None), default=None)
                    if oldest is None:
                        return None
                    key = {"channel_id": oldest[1], "message_id": oldest[2]}
                    message = self._read(conn.execute(_GET, key).fetchone())
                    if message is not None:
                        break
                message.claim(owner, now, lease)
                conn.execute(_CLAIM, to_row(message))
            return message

        return await self._db.run(work, "claiming a message")

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        row = {**to_row(message), "owner": owner}

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                if conn.execute(_SAVE, row).rowcount == 1:
                    return True
                # Saved already (the contract's idempotent retry; see the MongoDB store).
                return conn.execute(_SAVED, row).fetchone() is not None

        return await self._db.run(work, "saving a message")

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool:
        sql = f"UPDATE incoming_messages SET lease_until = :until WHERE {_KEY} AND {HELD}"
        args = {
            "until": fmt(until),
            "channel_id": key.channel_id,
            "message_id": key.message_id,
            "owner": owner,
        }

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(sql, args).rowcount == 1

        return await self._db.run(work, "renewing a lease")

    async def recover_expired(self, now: datetime) -> int:
        # As many rows as were claimed when their workers died: a bounded few.
        sql = f"SELECT * FROM incoming_messages WHERE {EXPIRED}"
        args = {"now": fmt(now)}

        def work(conn: sqlite3.Connection) -> int:
            recovered = 0
            with immediate(conn):
                for row in conn.execute(sql, args).fetchall():
                    message = self._read(row)
                    if message is not None:
                        message.recover_stuck(now)
                        _rewrite(conn, message)
                        recovered += 1
            return recovered

        return await self._db.run(work, "recovering expired leases")

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
        *,
        where: MessageFilter | None = None,
        stale: StaleResults | None = None,
    ) -> int:
        if not statuses and not kinds and stale is None:
            return 0
        # The rows of the statuses (a stale result is DONE) and kinds, within *where*; each
        # row read is then checked by requeue_selects, the one statement of the rule.
        wanted = {*statuses, MessageStatus.DONE} if stale is not None else set(statuses)
        chosen = _named("s", all_spellings(wanted))
        by_kind = _named("k", [str(k) for k in kinds])
        within, within_args = filter_condition(attrs.evolve(where or MessageFilter(), status=None))
        sql = (
            "SELECT * FROM incoming_messages WHERE (channel_id, message_id) > (:after_c, :after_m) "
            f"AND {NOT_LEASED} AND (processing_status IN ({_marks(chosen)}) "
            f"OR error_kind IN ({_marks(by_kind)})) AND {within} "
            f"ORDER BY channel_id, message_id LIMIT {_PAGE}"
        )

        def work(conn: sqlite3.Connection) -> int:
            count = 0
            after = {"after_c": -(2**63), "after_m": -(2**63)}
            with immediate(conn):  # pages by key: a bounded memory, one transaction
                args = {**chosen, **by_kind, **within_args}
                while rows := conn.execute(sql, {**after, **args}).fetchall():
                    for row in rows:
                        message = self._read(row)
                        if message is not None and requeue_selects(
                            message, statuses, kinds, where, stale
                        ):
                            message.requeue(now)
                            _rewrite(conn, message)
                            count += 1
                    after = {"after_c": rows[-1]["channel_id"], "after_m": rows[-1]["message_id"]}
            return count

        return await self._db.run(work, "requeueing messages")

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        args = {"channel_id": key.channel_id, "message_id": key.message_id}

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                row = conn.execute(_GET, args).fetchone()
                message = None if row is None else self._read(row)
                if message is None:
                    return False
                try:
                    message.requeue(now)
                except InvalidTransition:  # being processed
                    return False
                _rewrite(conn, message)
            return True

        return await self._db.run(work, "resetting a message")

    async def stats(self) -> MessageStats:
        def work(conn: sqlite3.Connection) -> MessageStats:
            by_status = {s: 0 for s in MessageStatus}
            unreadable = 0
            for status, count in conn.execute(
                "SELECT processing_status, COUNT(*) FROM incoming_messages "
                "GROUP BY processing_status"
            ):
                try:
                    by_status[parse_status(status)] += count
                except ValueError:
                    unreadable += count
            if unreadable:
                self._name_unknown_statuses(conn)
            histogram = {
                retries: count
                for retries, count in conn.execute(
                    "SELECT COALESCE(retry_count, 0) AS n, COUNT(*) FROM incoming_messages "
                    f"WHERE {status_in([MessageStatus.RETRY])} GROUP BY n ORDER BY n"
                )
            }
            errors = {
                str(kind): count
                for kind, count in conn.execute(
                    "SELECT error_kind, COUNT(*) FROM incoming_messages "
                    f"WHERE {status_in([MessageStatus.ERROR])} AND error_kind IS NOT NULL "
                    "GROUP BY error_kind ORDER BY error_kind"
                )
            }
            cached = conn.execute(
                "SELECT COUNT(*) FROM incoming_messages "
                f"WHERE {status_in([MessageStatus.DONE])} AND from_cache = 1"
            ).fetchone()[0]
            oldest = conn.execute(
                "SELECT MIN(updated_at) FROM incoming_messages "
                f"WHERE {status_in([MessageStatus.PENDING])}"
            ).fetchone()[0]
            return MessageStats(
                by_status,
                histogram,
                errors,
                _next_retry(conn),
                cached,
                unreadable=unreadable,
                oldest_pending_since=_time_or_none(oldest),
            )

        return await self._db.run(work, "computing statistics")

    def _name_unknown_statuses(self, conn: sqlite3.Connection) -> None:
        """One WARNING for each of the first few rows whose status cannot be read."""
        for row in conn.execute(
            "SELECT channel_id, message_id, processing_status FROM incoming_messages "
            f"WHERE {UNKNOWN_STATUS} LIMIT 5"
        ):
            key = (row[0], row[1])
            self._unreadable.read(key, f"{key[0]}/{key[1]}", row[2], parse_status)

    async def next_retry_at(self) -> datetime | None:
        return await self._db.run(_next_retry, "finding the next retry")

    async def highest_message_id(self, channel_id: int) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT MAX(message_id) FROM incoming_messages WHERE channel_id = ?",
                (channel_id,),
            ).fetchone()
            return None if row[0] is None else int(row[0])

        return await self._db.run(work, "finding the highest message id")

    async def iter_matching(
        self, where: MessageFilter, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Keyset pages in key order (the primary key's index): no read transaction stays
        open between pages, and at most two pages are held (the next is read while this
        one is handed out)."""
        condition, args = filter_condition(where)
        sql = (
            f"SELECT * FROM incoming_messages WHERE {condition} "
            "AND (channel_id, message_id) > (:after_c, :after_m) "
            "ORDER BY channel_id, message_id LIMIT :limit"
        )

        def after(row: sqlite3.Row | None) -> dict[str, object]:
            if row is None:
                return {"after_c": -(2**63), "after_m": -(2**63)}
            return {"after_c": row["channel_id"], "after_m": row["message_id"]}

        async for message in self._pages(sql, args, after, batch_size, "reading messages"):
            yield message

    async def iter_parsed_since(
        self, since: datetime, where: MessageFilter | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Keyset pages in the order of parsing (the ``parsed_order`` index)."""
        done = MessageFilter(MessageStatus.DONE)
        if where is not None:
            done = attrs.evolve(where, status=MessageStatus.DONE)
        condition, args = filter_condition(done, status_index=True)  # the parsed_order index
        sql = (
            f"SELECT * FROM incoming_messages WHERE {condition} AND done_at >= :since "
            "AND (done_at, channel_id, message_id) > (:after_d, :after_c, :after_m) "
            "ORDER BY done_at, channel_id, message_id LIMIT :limit"
        )

        def after(row: sqlite3.Row | None) -> dict[str, object]:
            if row is None:
                return {"after_d": "", "after_c": -(2**63), "after_m": -(2**63)}
            return {
                "after_d": row["done_at"],
                "after_c": row["channel_id"],
                "after_m": row["message_id"],
            }

        pages = self._pages(
            sql, {**args, "since": fmt(since)}, after, batch_size, "reading parsed messages"
        )
        async for message in pages:
            yield message

    async def _pages(
        self,
        sql: str,
        args: dict[str, object],
        after: Callable[[sqlite3.Row | None], dict[str, object]],
        batch_size: int,
        action: str,
    ) -> AsyncIterator[IncomingMessage]:
        """Run a keyset query page by page, reading the next page in the database's thread
        while the caller works through this one."""

        def read(last: sqlite3.Row | None) -> asyncio.Future[list[sqlite3.Row]]:
            page = {**args, **after(last), "limit": batch_size}
            return asyncio.ensure_future(self._db.run(partial(_fetch, sql, page), action))

        pending: asyncio.Future[list[sqlite3.Row]] | None = read(None)
        try:
            while pending is not None:
                rows = await pending
                pending = read(rows[-1]) if len(rows) == batch_size else None
                for row in rows:
                    message = self._read(row)
                    if message is not None:
                        yield message
        finally:
            if pending is not None:  # the caller stopped early: drop the page being read
                pending.cancel()
                pending.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[list[sqlite3.Row]]) -> None:
    """Mark a dropped page's outcome as seen (no "exception was never retrieved")."""
    if not future.cancelled():
        future.exception()


def _fetch(
    sql: str, args: tuple[object, ...] | dict[str, object], conn: sqlite3.Connection
) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def _next_retry(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(
        f"SELECT MIN(retry_after) FROM incoming_messages WHERE {status_in([MessageStatus.RETRY])}"
    ).fetchone()
    return _time_or_none(row[0])


def _time_or_none(value: object) -> datetime | None:
    try:
        return parse_opt(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a time edited by hand into no time
        return None
