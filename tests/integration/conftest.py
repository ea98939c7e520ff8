"""Fixtures shared by the integration tests: the MongoDB-protocol server and fresh databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

HOW_TO_GET_A_SERVER = (
    "MONGODB_URI is not set: the integration tests need a MongoDB-protocol server. "
    "Run ./scripts/test (it starts FerretDB on a free 127.0.0.1 port), or start one with "
    "`scripts/ferretdb start DIR` and export the URI it prints as MONGODB_URI, "
    "or point MONGODB_URI at a real MongoDB."
)


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    """The server's URI; fails (never skips) when none is configured."""
    uri = os.environ.get("MONGODB_URI", "").strip()
    if not uri:
        pytest.fail(HOW_TO_GET_A_SERVER, pytrace=False)
    return uri


@pytest.fixture
def mongo_database(mongo_uri: str) -> Iterator[str]:
    """A database name of this test's own, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield name
    with MongoClient(mongo_uri, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A fresh SQLite file path in this test's own folder."""
    return tmp_path / "store.sqlite3"


# A `simulate-zai` subprocess for the CLI tests (defined beside the CLI helpers).
from tests.integration.cli_support import simulator_url  # noqa: E402, F401
