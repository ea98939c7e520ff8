"""Claim-and-complete cycles per second: the storage adapters next to bare round trips.

One cycle = claim the oldest pending message with a lease, then mark it done. For each
backend, in one run, on stores filled alike with --n pending messages:

- adapter: ``claim_next`` + ``IncomingMessage.succeed`` + ``save`` through the port;
- bare: the same server driven directly: MongoDB with one ``find_one_and_update``
  (status filter, oldest first) plus one ``update_one``; SQLite with the equivalent raw
  SQL (``UPDATE ... RETURNING`` then ``UPDATE``, each in ``BEGIN IMMEDIATE``) on a
  connection with the adapter's settings (WAL, synchronous=FULL).

Printed: cycles/s of each and the ratio bare/adapter (goal: ≤ 2). MongoDB is the server
of MONGODB_URI (or --mongodb-uri); without one, FerretDB is started by scripts/ferretdb.

    python bench/storage.py [--n 300] [--backend sqlite|mongodb|both] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument

from channel_parser.adapters.storage.mongo import MongoStorage
from channel_parser.adapters.storage.mongo_claims import CLAIM_ORDER
from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.adapters.storage.sqlite_db import fmt
from channel_parser.application.ports.storage import MessageRepository, NewPost

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 25, 18, 0, tzinfo=UTC)
LEASE = timedelta(minutes=3)
RESULT = {"title": "t", "tags": ["a", "b"], "summary": "x" * 200}


async def fill(repo: MessageRepository, n: int) -> None:
    for i in range(n):
        await repo.add(NewPost(i % 7, i, f"post {i} " + "x" * 300), T0 + timedelta(seconds=i))


async def timed(n: int, cycle: Callable[[int], Awaitable[None]]) -> float:
    start = time.perf_counter()
    for i in range(n):
        await cycle(i)
    return n / (time.perf_counter() - start)


async def adapter_cycles(repo: MessageRepository, n: int) -> float:
    now = T0 + timedelta(days=1)

    async def cycle(i: int) -> None:
        msg = await repo.claim_next("bench", now, LEASE)
        assert msg is not None
        msg.succeed("bench", RESULT, now)
        assert await repo.save(msg, "bench")

    return await timed(n, cycle)


async def bench_sqlite(folder: Path, n: int) -> dict[str, float]:
    adapter_store = await SQLiteStorage.open(folder / "adapter.sqlite3")
    bare_store = await SQLiteStorage.open(folder / "bare.sqlite3")
    try:
        await fill(adapter_store.messages, n)
        await fill(bare_store.messages, n)
        adapter = await adapter_cycles(adapter_store.messages, n)
    finally:
        await adapter_store.close()
        await bare_store.close()
    conn = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    now = fmt(T0 + timedelta(days=1))
    until = fmt(T0 + timedelta(days=1) + LEASE)
    done = json.dumps(RESULT)

    async def cycle(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "UPDATE incoming_messages SET processing_status = 'processing', lease_owner = ?, "
            "lease_until = ?, updated_at = ? WHERE rowid = (SELECT rowid FROM incoming_messages "
            "WHERE processing_status = 'pending' ORDER BY received_at, channel_id, message_id "
            "LIMIT 1) RETURNING channel_id, message_id",
            ("bench", until, now),
        ).fetchone()
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE incoming_messages SET processing_status = 'done', result = ?, done_at = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE channel_id = ? AND message_id = ? "
            "AND processing_status = 'processing' AND lease_owner = ?",
            (done, now, row[0], row[1], "bench"),
        )
        conn.execute("COMMIT")

    try:
        bare = await timed(n, cycle)
    finally:
        conn.close()
    return {"adapter": adapter, "bare": bare}


async def bench_mongo(uri: str, n: int) -> dict[str, float]:
    names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    adapter_store = await MongoStorage.connect(uri, names[0])
    bare_store = await MongoStorage.connect(uri, names[1])
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    coll = client[names[1]].incoming_messages
    now = T0 + timedelta(days=1)

    async def cycle(i: int) -> None:
        doc = await coll.find_one_and_update(
            {"processing_status": "pending"},
            {
                "$set": {
                    "processing_status": "processing",
                    "lease_owner": "bench",
                    "lease_until": now + LEASE,
                    "updated_at": now,
                }
            },
            sort=CLAIM_ORDER,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        await coll.update_one(
            {"_id": doc["_id"], "processing_status": "processing", "lease_owner": "bench"},
            {
                "$set": {"processing_status": "done", "result": RESULT, "done_at": now},
                "$unset": {"lease_owner": "", "lease_until": ""},
            },
        )

    try:
        await fill(adapter_store.messages, n)
        await fill(bare_store.messages, n)
        bare = await timed(n, cycle)
        adapter = await adapter_cycles(adapter_store.messages, n)
    finally:
        for name in names:
            await client.drop_database(name)
        await client.close()
        await adapter_store.close()
        await bare_store.close()
    return {"adapter": adapter, "bare": bare}


def start_ferretdb(folder: Path) -> str:
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        [str(ROOT / "scripts" / "ferretdb"), "start", str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout.strip()


def stop_ferretdb(folder: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "ferretdb"), "stop", str(folder)], check=False)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="cycles per loop (and messages)")
    parser.add_argument("--backend", choices=["sqlite", "mongodb", "both"], default="both")
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            results["sqlite"] = await bench_sqlite(folder, args.n)
        if args.backend in ("mongodb", "both"):
            uri, started = args.mongodb_uri, False
            if not uri:
                uri, started = start_ferretdb(folder / "ferretdb"), True
            try:
                results["mongodb"] = await bench_mongo(uri, args.n)
            finally:
                if started:
                    stop_ferretdb(folder / "ferretdb")
    for figures in results.values():
        figures["ratio"] = figures["bare"] / figures["adapter"]
    if args.json:
        print(json.dumps({"n": args.n, **results}))
        return
    for backend, f in results.items():
        print(
            f"{backend:8} adapter {f['adapter']:8.1f} cycles/s   bare {f['bare']:8.1f} cycles/s"
            f"   bare/adapter {f['ratio']:.2f}x (goal <= 2)"
        )


if __name__ == "__main__":
    asyncio.run(main())
