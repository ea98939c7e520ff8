"""Profiles from the command line (issue 17, item 2): requeue --schema-changed narrowed
by --channel and --since, on an SQLite store, as a subprocess."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from tests.integration.engine_support import KEY, settings_for
from tests.integration.test_result_delivery import cli

JOBS = -1001234500011
NEWS = -1001234500012
LEASE = timedelta(seconds=60)


async def test_requeue_schema_changed_within_a_channel_and_since(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    settings = settings_for("http://127.0.0.1:9/v4", db)
    container = Container(settings=settings)
    try:
        profiles = container.profiles()
        current = profiles.table.default.fingerprint
        messages = await container.messages.async_()
        for channel in (JOBS, NEWS):
            for n, day in ((1, 5), (2, 20), (3, 21)):
                posted = datetime(2026, 1, day, tzinfo=UTC)
                await messages.add(NewPost(channel, n, f"post {n}", posted), posted)
                claimed = await messages.claim_next("w", posted, LEASE)
                assert claimed is not None
                made_under = current if n == 3 else "an-older-schema"
                claimed.succeed("w", {"t": n}, posted, parser_fingerprint=made_under)
                assert await messages.save(claimed, "w")
    finally:
        await shutdown(container)
    env = {"SQLITE_PATH": str(db), "LLM_API_KEY": KEY}
    config = tmp_path / "c.toml"
    config.write_text(f'[profiles.jobs]\nchannels = ["{JOBS}"]\nschema = "job_post"\n')

    narrowed = cli(
        "requeue", "--schema-changed", "--channel", str(NEWS), "--since", "2026-01-10",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert narrowed.returncode == 0, narrowed.stderr
    assert narrowed.stdout.strip() == "requeued 1 message(s)"  # NEWS/2; NEWS/3 is current
    # The jobs channel now has a profile of its own: all of its results are stale.
    everything = cli(
        "requeue", "--schema-changed", cwd=tmp_path, env={**env, "CONFIG_FILE": str(config)}
    )
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.strip() == "requeued 4 message(s)"  # JOBS/1-3 and NEWS/1
    status = json.loads(cli("status", "--json", cwd=tmp_path, env=env).stdout)
    assert status["messages"]["pending"] == 5 and status["messages"]["done"] == 1
    refused = cli("requeue", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "--schema-changed" in refused.stderr
