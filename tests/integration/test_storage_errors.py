"""Storage errors: an unreachable store at start-up is one clear line without the password;
a failure during operation is a typed StorageError, never a driver exception."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channel_parser.application.errors import StorageError, StorageUnavailable
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
PASSWORD = "s3cret-Pa55word"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_mongodb_at_start_is_one_line_without_the_password() -> None:
    uri = f"mongodb://parser:{PASSWORD}@127.0.0.1:{_free_port()}/?authSource=admin"
    settings = Settings(_env_file=None, mongodb_uri=uri)
    with pytest.raises(StorageUnavailable) as caught:
        async with open_storage(settings, server_timeout=0.5):
            pytest.fail("opened a store that does not exist")
    text = str(caught.value)
    assert "\n" not in text and PASSWORD not in text
    assert "127.0.0.1" in text and "did not answer within 0.5 s" in text
    assert PASSWORD not in repr(caught.value)


async def test_unopenable_sqlite_file_at_start_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=blocker / "store.sqlite3")
    with pytest.raises(StorageUnavailable) as caught:
        async with open_storage(settings):
            pytest.fail("opened a store in a file")
    assert "\n" not in str(caught.value)


async def test_sqlite_failure_during_operation_is_a_storage_error(sqlite_path: Path) -> None:
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    async with open_storage(settings) as stores:
        await stores.messages.add(NewPost(1, 1, "x"), NOW)
        # Another process breaks the file under our feet.
        other = sqlite3.connect(sqlite_path)
        other.execute("DROP TABLE incoming_messages")
        other.commit()
        other.close()
        with pytest.raises(StorageError) as caught:
            await stores.messages.add(NewPost(1, 2, "y"), NOW)
        assert not isinstance(caught.value, sqlite3.Error)
        assert isinstance(caught.value.__cause__, sqlite3.Error)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A FerretDB of this test's own (so that it can be stopped mid-test)."""
    script = ROOT / "scripts" / "ferretdb"
    env = {**os.environ, "PYTHON": sys.executable}
    uri = subprocess.run(
        [str(script), "start", str(tmp_path / "ferret")],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    ).stdout.strip()
    try:
        yield uri, tmp_path / "ferret"
    finally:
        subprocess.run([str(script), "stop", str(tmp_path / "ferret")], env=env, check=False)


async def test_mongodb_going_away_during_operation_is_storage_unavailable(
    own_server: tuple[str, Path],
) -> None:
    uri, folder = own_server
    settings = Settings(_env_file=None, mongodb_uri=uri)
    async with open_storage(settings, server_timeout=1.0) as stores:
        await stores.messages.add(NewPost(1, 1, "x"), NOW)
        await asyncio.to_thread(
            subprocess.run, [str(ROOT / "scripts" / "ferretdb"), "stop", str(folder)], check=True
        )
        with pytest.raises(StorageUnavailable) as caught:
            await stores.messages.stats()
        assert type(caught.value).__module__ == "channel_parser.application.errors"
        assert type(caught.value.__cause__).__module__.startswith("pymongo")
