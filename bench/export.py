"""`channel-parser export` of many parsed posts: records/s and peak memory, next to a bare
read of the same rows in the same run.

For each backend, in one run, on a store filled with --n parsed posts (written straight
as the adapter's rows or documents: parsing that many would take hours):

- export: ``channel-parser export -o FILE`` as a subprocess (JSON Lines, then CSV), its
  wall time and its peak RSS (``ru_maxrss`` of the child);
- small: the same export of a tenth of the posts (``--until``), whose peak RSS shows
  whether memory grows with the number of records;
- bare: a subprocess that reads every row with the driver alone (``sqlite3`` cursor,
  PyMongo cursor in batches of 500) and writes ``json.dumps`` of it a line: the floor.

Printed: records/s of each, bare/export, and the peak RSS of each run (goal: <= 150 MB
for 100 000 records, and not growing with their number). MongoDB is the server of
MONGODB_URI (or --mongodb-uri); without one, FerretDB is started by scripts/ferretdb.

    python bench/export.py [--n 100000] [--backend sqlite|mongodb|both] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from channel_parser.adapters.storage.mongo_documents import to_document
from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.adapters.storage.sqlite_rows import COLUMNS, to_row
from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "channel_parser.bootstrap.cli"]
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
CHANNELS = (-1001700000001, -1001700000002, -1001700000003)
BATCH = 5_000
MB = 1024  # ru_maxrss is in KiB on Linux

BARE_SQLITE = textwrap.dedent(
    """
    import json, sqlite3, sys
    conn = sqlite3.connect(sys.argv[1])
    conn.row_factory = sqlite3.Row
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for row in conn.execute("SELECT * FROM incoming_messages WHERE processing_status = "
                                "'done' ORDER BY channel_id, message_id"):
            data = dict(row)
            data["result"] = json.loads(data["result"])
            out.write(json.dumps(data, ensure_ascii=False) + "\\n")
    """
)
BARE_MONGO = textwrap.dedent(
    """
    import json, sys
    from pymongo import MongoClient
    with MongoClient(sys.argv[1]) as client:
        docs = client[sys.argv[2]].incoming_messages.find(
            {"processing_status": "done"}, batch_size=500
        ).sort([("channel_id", 1), ("message_id", 1)])
        with open(sys.argv[3], "w", encoding="utf-8") as out:
            for doc in docs:
                out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\\n")
    """
)


def parsed(i: int) -> IncomingMessage:
    """A parsed post as the engine leaves it (the default schema's result)."""
    at = START + timedelta(seconds=i)
    return IncomingMessage(
        channel_id=CHANNELS[i % len(CHANNELS)],
        message_id=i,
        text=f"Пост {i}: ищем Python-разработчика в команду платежей, удалённо. #вакансия",
        received_at=at,
        posted_at=at,
        status=MessageStatus.DONE,
        result={
            "summary": f"Ищем Python-разработчика в команду платежей ({i})",
            "language": "ru",
            "topics": ["вакансия", "python", "удалённо"],
            "entities": [{"name": "Python", "type": "other"}],
            "links": [],
            "is_advertisement": False,
            "sentiment": "neutral",
        },
        updated_at=at,
        done_at=at,
        usage=LLMUsage(520, 80, 1, 0.2),
        model="glm-4.6",
        parser_fingerprint="0123456789abcdef",
    )


def until_for(n: int) -> str:
    """The --until that selects the first tenth of the posts (post time = START + i s)."""
    return (START + timedelta(seconds=n // 10)).isoformat()


# Started by a small launcher: a child's ru_maxrss counts the memory of the process it was
# forked from, and this one (the filler) is larger than some of the children.
LAUNCHER = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    started = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read().decode()[-2000:]
    print(json.dumps([os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss, err]))
    """
)


def child(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run *command*; its wall seconds and its peak RSS in MB."""
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    code, seconds, max_rss, err = json.loads(launched.stdout)
    if code != 0:
        raise SystemExit(f"{command[3:]} failed: {err}")
    return seconds, max_rss / MB


def lines_in(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def measure(n: int, env: dict[str, str], bare: list[str], folder: Path) -> dict[str, float]:
    out = folder / "out"
    figures: dict[str, float] = {"n": n}
    seconds, rss = child([*CLI, "export", "-o", str(out)], env)
    assert lines_in(out) == n, "the export missed records"
    figures.update(export_rate=n / seconds, export_rss_mb=rss)
    seconds, rss = child([*CLI, "export", "-f", "csv", "-o", str(out)], env)
    figures.update(csv_rate=n / seconds, csv_rss_mb=rss)
    seconds, rss = child([*CLI, "export", "--until", until_for(n), "-o", str(out)], env)
    figures.update(small_n=lines_in(out), small_rss_mb=rss)
    seconds, rss = child([sys.executable, "-c", *bare, str(out)], env)
    assert lines_in(out) == n
    figures.update(bare_rate=n / seconds, bare_rss_mb=rss)
    figures["bare_over_export"] = figures["bare_rate"] / figures["export_rate"]
    figures["rss_growth"] = figures["export_rss_mb"] / figures["small_rss_mb"]
    return figures


def bench_sqlite(folder: Path, n: int, env: dict[str, str]) -> dict[str, float]:
    path = folder / "export.sqlite3"

    async def create() -> None:
        await (await SQLiteStorage.open(path)).close()

    asyncio.run(create())
    insert = (
        f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
    )
    with sqlite3.connect(path) as conn:
        for start in range(0, n, BATCH):
            rows = (to_row(parsed(i)) for i in range(start, min(start + BATCH, n)))
            conn.executemany(insert, rows)
    store = {**env, "SQLITE_PATH": str(path)}
    return measure(n, store, [BARE_SQLITE, str(path)], folder)


def bench_mongo(folder: Path, uri: str, n: int, env: dict[str, str]) -> dict[str, float]:
    database = f"bench_export_{uuid.uuid4().hex[:8]}"

    async def create_indexes() -> None:  # as the adapter makes them at start
        from channel_parser.adapters.storage.mongo import MongoStorage

        await (await MongoStorage.connect(uri, database)).close()

    asyncio.run(create_indexes())
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    with client:
        collection = client[database].incoming_messages
        try:
            for start in range(0, n, BATCH):
                docs = [to_document(parsed(i)) for i in range(start, min(start + BATCH, n))]
                collection.insert_many(docs, ordered=False)
            store = {**env, "MONGODB_URI": uri, "MONGODB_DATABASE": database}
            return measure(n, store, [BARE_MONGO, uri, database], folder)
        finally:
            client.drop_database(database)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="parsed posts in the store")
    parser.add_argument("--backend", choices=["sqlite", "mongodb", "both"], default="both")
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MONGODB_", "SQLITE_", "LLM_", "TELEGRAM_"))
    }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["HOME"] = env.get("HOME", tmp)
        if args.backend in ("sqlite", "both"):
            results["sqlite"] = bench_sqlite(folder, args.n, {**env})
        if args.backend in ("mongodb", "both"):
            uri, started = args.mongodb_uri, False
            if not uri:
                uri, started = start_ferretdb(folder / "ferretdb"), True
            try:
                results["mongodb"] = bench_mongo(folder, uri, args.n, {**env})
            finally:
                if started:
                    stop_ferretdb(folder / "ferretdb")
    if args.json:
        print(json.dumps(results))
        return
    print(f"peak RSS of this process (the filler): {resource.getrusage(0).ru_maxrss / MB:.0f} MB")
    for backend, f in results.items():
        print(
            f"{backend:8} export {f['export_rate']:8.0f} rec/s ({f['export_rss_mb']:.0f} MB)"
            f"   csv {f['csv_rate']:8.0f} rec/s ({f['csv_rss_mb']:.0f} MB)"
            f"   bare {f['bare_rate']:8.0f} rec/s ({f['bare_rss_mb']:.0f} MB)"
            f"   bare/export {f['bare_over_export']:.2f}x\n"
            f"{'':8} peak RSS for {f['n']:.0f} records {f['export_rss_mb']:.0f} MB, for "
            f"{f['small_n']:.0f} records {f['small_rss_mb']:.0f} MB: "
            f"{f['rss_growth']:.2f}x (goal: <= 150 MB, not growing)"
        )


if __name__ == "__main__":
    main()
