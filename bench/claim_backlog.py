"""How a claim's cost grows with the backlog, on SQLite: the time of one claim with 1 000
and with 100 000 messages waiting, in one run (the ratio is the figure; goal: close to 1,
a claim walks an index instead of sorting the backlog).

    python bench/claim_backlog.py [--small 1000] [--large 100000] [--claims 300] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.adapters.storage.sqlite_rows import COLUMNS, to_row
from channel_parser.application.ports.storage import NewPost

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INSERT = (
    f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
)


async def ms_per_claim(folder: Path, waiting: int, claims: int) -> float:
    path = folder / f"backlog-{waiting}.sqlite3"
    store = await SQLiteStorage.open(path)  # the schema, as the adapter makes it
    await store.close()
    with sqlite3.connect(path, isolation_level=None) as db:  # the backlog, written fast
        db.execute("BEGIN")
        db.executemany(
            INSERT,
            (
                to_row(NewPost(i % 7, i, f"post {i}").to_message(T0 + timedelta(seconds=i)))
                for i in range(waiting)
            ),
        )
        db.execute("COMMIT")
    store = await SQLiteStorage.open(path)
    try:
        now = T0 + timedelta(days=400)
        started = time.perf_counter()
        for _ in range(claims):
            assert await store.messages.claim_next("bench", now, timedelta(minutes=5))
        return (time.perf_counter() - started) / claims * 1000
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-claims-") as tmp:
        small = await ms_per_claim(Path(tmp), args.small, args.claims)
        large = await ms_per_claim(Path(tmp), args.large, args.claims)
    return {
        f"ms_per_claim_{args.small}": round(small, 3),
        f"ms_per_claim_{args.large}": round(large, 3),
        "large_over_small": round(large / small, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:24} {value}")
