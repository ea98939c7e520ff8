"""Four OS processes claim from 2,000 due messages at once: each is claimed exactly once.

On FerretDB (the test server ./scripts/test starts) every filtered write scans the whole
collection inside one SQLite write transaction, so four processes claiming 2,000
messages take most of an hour there; against FerretDB the Mongo run uses
FERRETDB_MESSAGES instead (CLAIM_TEST_MESSAGES overrides both). Against a real MongoDB
and on SQLite it is 2,000.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import MongoClient

from channel_parser.adapters.storage.sqlite_db import fmt
from channel_parser.application.ports.storage import MessageFilter, NewPost
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import open_storage
from channel_parser.domain.status import MessageStatus

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 2000
FERRETDB_MESSAGES = 200
WORKERS = 4
T0 = datetime(2026, 1, 25, 18, 0, tzinfo=UTC)


async def _fill(settings: Settings, count: int) -> None:
    """2,000 due messages stored through the adapter; the older half is then turned into
    RETRY messages whose retry_after has passed (as the adapter writes them)."""
    async with open_storage(settings) as stores:
        for i in range(count):
            await stores.messages.add(_post(i), T0 + timedelta(milliseconds=i))
    retry_after = T0 + timedelta(minutes=1)
    if settings.mongodb_uri is None:
        with closing(sqlite3.connect(settings.sqlite_path)) as conn, conn:
            conn.execute(
                "UPDATE incoming_messages SET processing_status = 'retry', retry_count = 1, "
                "retry_after = ? WHERE message_id < ?",
                (fmt(retry_after), count // 2),
            )
        return
    with MongoClient(settings.mongodb_uri.get_secret_value()) as client:
        client[settings.mongodb_database].incoming_messages.update_many(
            {"message_id": {"$lt": count // 2}},
            {"$set": {"processing_status": "retry", "retry_count": 1, "retry_after": retry_after}},
        )


def _is_ferretdb(uri: str) -> bool:
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        return "ferretdbVersion" in client.admin.command("buildInfo")


def _post(i: int) -> NewPost:
    return NewPost(channel_id=i % 7, message_id=i, text=f"post {i}")


def _run_workers(backend: str, target: str, database: str, tmp_path: Path) -> dict[str, list]:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # tests.*; the package as installed
    procs = {
        f"w{n}": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.claim_worker",
                backend,
                target,
                database,
                f"w{n}",
                str(go),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for n in range(WORKERS)
    }
    for proc in procs.values():  # every worker connected before the start
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    claimed = {}
    for owner, proc in procs.items():
        out, _ = proc.communicate(timeout=540)
        assert proc.returncode == 0, f"{owner} failed"
        claimed[owner] = [tuple(json.loads(line)) for line in out.splitlines() if line]
    return claimed


async def _check(settings: Settings, claimed: dict[str, list], count: int) -> None:
    every = [key for keys in claimed.values() for key in keys]
    twice = [key for key, n in Counter(every).items() if n > 1]
    assert twice == [], f"claimed more than once: {twice[:10]}"
    assert len(every) == count
    assert sum(1 for keys in claimed.values() if keys) >= 2, "the workers did not overlap"
    async with open_storage(settings) as stores:
        assert (await stores.messages.stats()).by_status[MessageStatus.PROCESSING] == count
        owner_of = {key: owner for owner, keys in claimed.items() for key in keys}
        async for msg in stores.messages.iter_matching(MessageFilter()):
            assert msg.lease_owner == owner_of[(msg.channel_id, msg.message_id)]


@pytest.mark.slow
async def test_sqlite_claims_each_message_once(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=path)
    count = int(os.environ.get("CLAIM_TEST_MESSAGES", MESSAGES))
    await _fill(settings, count)
    claimed = _run_workers("sqlite", str(path), "-", tmp_path)
    await _check(settings, claimed, count)


@pytest.mark.slow
@pytest.mark.timeout(600)  # FerretDB scans a collection for every filtered write
async def test_mongodb_claims_each_message_once(
    tmp_path: Path, mongo_uri: str, mongo_database: str
) -> None:
    settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
    default = FERRETDB_MESSAGES if _is_ferretdb(mongo_uri) else MESSAGES
    count = int(os.environ.get("CLAIM_TEST_MESSAGES", default))
    await _fill(settings, count)
    claimed = _run_workers("mongodb", mongo_uri, mongo_database, tmp_path)
    await _check(settings, claimed, count)
