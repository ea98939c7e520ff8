"""A claiming worker run as its own OS process by test_claim_concurrency.

    python -m tests.integration.claim_worker BACKEND TARGET DATABASE OWNER GO_FILE

Waits until GO_FILE exists (so that all workers start together), claims until nothing
is due, and prints the claimed keys as JSON lines "[channel, message]".
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import open_storage

NOW = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)


async def main(backend: str, target: str, database: str, owner: str, go: Path) -> None:
    if backend == "mongodb":
        settings = Settings(_env_file=None, mongodb_uri=target, mongodb_database=database)
    else:
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=Path(target))
    async with open_storage(settings) as stores:
        print("ready", flush=True)
        while not go.exists():  # noqa: ASYNC110, ASYNC240 - the start line of every worker
            await asyncio.sleep(0.005)
        claimed = []
        while (msg := await stores.messages.claim_next(owner, NOW, timedelta(hours=1))) is not None:
            claimed.append([msg.channel_id, msg.message_id])
    for key in claimed:
        print(json.dumps(key))


if __name__ == "__main__":
    backend, target, database, owner, go = sys.argv[1:6]
    asyncio.run(main(backend, target, database, owner, Path(go)))
