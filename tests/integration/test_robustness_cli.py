"""Nothing spins, hangs or crashes (issue 12), from the command line: the CLI as a
subprocess against local fault servers on 127.0.0.1, with bad files and odd settings.
Every wait has a deadline; every bad input is one line, exit 2 (a setting) or 3 (the
store); no traceback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from channel_parser.bootstrap.cli import app
from tests.integration.cli_support import CLI
from tests.integration.test_bad_input import run_cli

KEY = "sk-robust-test-0123456789"


def admin(root: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{root}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.loads(reply.read())


def llm_env(root: str, **more: str) -> dict[str, str]:
    return {"LLM_BASE_URL": f"{root}/api/paas/v4", "LLM_API_KEY": KEY, **more}


def one_line(result: subprocess.CompletedProcess[str], code: int, says: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("channel-parser: error: ") and says in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# -- B.1: LLM_TIMEOUT is the deadline of the whole call --------------------------------


def test_parse_against_a_dripping_provider_returns_within_the_timeout(
    simulator_url: str, tmp_path: Path
) -> None:
    admin(simulator_url, "/admin/faults", {"triggers": {"DRIP": "drip"}})
    started = time.monotonic()
    result = run_cli(
        "parse", "DRIP: a post", cwd=tmp_path, **llm_env(simulator_url, LLM_TIMEOUT="2")
    )
    took = time.monotonic() - started
    print(f"parse, LLM_TIMEOUT=2, a byte every 0.5 s: returned in {took:.1f} s")
    one_line(result, 6, "transient (code timeout): no reply within 2 s")
    assert took < 8


# -- B.2: SIGTERM on `process --until-idle` while calls hang -----------------------------


def _stored_posts(tmp_path: Path, texts: list[str]) -> None:
    export = tmp_path / "result.json"
    messages = [{"id": i, "type": "message", "text": t} for i, t in enumerate(texts, 1)]
    export.write_text(
        json.dumps({"name": "c", "type": "public_channel", "id": 5555, "messages": messages})
    )
    assert run_cli("import", str(export), cwd=tmp_path).returncode == 0


def test_sigterm_stops_process_until_idle_within_the_grace_while_calls_hang(
    simulator_url: str, tmp_path: Path
) -> None:
    _stored_posts(tmp_path, [f"HANG post {i}" for i in range(3)])
    admin(simulator_url, "/admin/faults", {"triggers": {"HANG": "hang"}})
    keep = ("MONGODB_", "TELEGRAM_", "LLM_", "ADMIN_", "SQLITE_", "METRICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    env.update(
        SQLITE_PATH=str(tmp_path / "store.sqlite3"),
        METRICS_PORT="0",
        **llm_env(simulator_url, LLM_TIMEOUT="60"),
    )
    proc = subprocess.Popen(
        [*CLI, "process", "--until-idle"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while admin(simulator_url, "/admin/stats")["in_flight"] < 3:
            assert time.monotonic() < deadline, "the calls never started"
            time.sleep(0.1)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"process --until-idle, hanging provider: exited {took:.1f} s after SIGTERM")
    assert took < 35, err
    assert proc.returncode == 0, err
    assert "released 3 message(s) unfinished at shutdown" in err
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        statuses = [row[0] for row in db.execute("select processing_status from incoming_messages")]
    assert statuses == ["pending"] * 3  # given back, not held for a lease


# -- D: one line, exit 2 or 3, never a traceback -----------------------------------------


def _ours_truncated(tmp_path: Path) -> Path:
    """A store of ours with some posts, cut after its first 8 KiB (a crash mid-copy)."""
    _stored_posts(tmp_path, [f"post {i} " + "x" * 400 for i in range(200)])
    whole = tmp_path / "store.sqlite3"
    with sqlite3.connect(whole) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cut = tmp_path / "cut.sqlite3"
    cut.write_bytes(whole.read_bytes()[:8192])
    return cut


@pytest.mark.parametrize("kind", ["random bytes", "truncated"])
def test_a_corrupt_sqlite_file_is_one_line_exit_3(tmp_path: Path, kind: str) -> None:
    if kind == "random bytes":
        path = tmp_path / "x.sqlite3"
        path.write_bytes(os.urandom(8192))
    else:
        path = _ours_truncated(tmp_path)
    before = path.read_bytes()
    for command in (["status"], ["process", "--until-idle"]):
        result = run_cli(*command, cwd=tmp_path, SQLITE_PATH=str(path), LLM_API_KEY=KEY)
        one_line(result, 3, "a corrupt or truncated file, or not an SQLite database")
    assert path.read_bytes() == before


def test_another_applications_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("create table invoices (id integer primary key, total real)")
        db.execute("insert into invoices values (1, 9.5)")
    before = path.read_bytes()
    result = run_cli("status", cwd=tmp_path, SQLITE_PATH=str(path))
    one_line(result, 2, "setting SQLITE_PATH: ")
    assert "tables invoices" in result.stderr
    assert path.read_bytes() == before  # no tables added, not switched to WAL
    assert not (tmp_path / "theirs.sqlite3-wal").exists()
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert run_cli("status", cwd=tmp_path, SQLITE_PATH=str(empty)).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEASE_SECONDS", "inf"),
        ("BACKOFF_CAP_SECONDS", "inf"),
        ("BACKOFF_BASE_SECONDS", "1e12"),
        ("STUCK_CHECK_SECONDS", "inf"),
        ("QUOTA_PROBE_SECONDS", "1e12"),
        ("POLL_SECONDS", "inf"),
        ("NOTIFY_QUOTA_INTERVAL_SECONDS", "inf"),
        ("NOTIFY_RATE_INTERVAL_SECONDS", "nan"),
        ("ADMIN_BOT_API_BASE", "https://api.telegram.org:99999"),
        ("ADMIN_BOT_API_BASE", "api.telegram.org"),
    ],
)
def test_an_unbounded_setting_stops_process_with_one_line(
    tmp_path: Path, name: str, value: str
) -> None:
    result = run_cli("process", "--until-idle", cwd=tmp_path, LLM_API_KEY=KEY, **{name: value})
    one_line(result, 2, f"setting {name}: ")


def _schema(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("utf16.json", lambda p: _schema(p, "utf16.json", '{"type": "object"}', "utf-16"), "UTF-8"),
        (
            "deep.json",
            lambda p: _schema(p, "deep.json", '{"not":' * 100_000 + "{}" + "}" * 100_000),
            "nests deeper than",
        ),
        (
            "dangling.json",
            lambda p: _schema(p, "dangling.json", '{"properties": {"a": {"$ref": "#/$defs/x"}}}'),
            "does not resolve inside the file",
        ),
    ],
)
def test_a_schema_file_that_cannot_be_used_is_one_line(
    tmp_path: Path, name: str, make: Any, says: str
) -> None:
    path = make(tmp_path)
    result = run_cli("parse", "a post", cwd=tmp_path, LLM_API_KEY=KEY, LLM_SCHEMA_FILE=str(path))
    one_line(result, 2, "setting LLM_SCHEMA_FILE: ")
    assert says in result.stderr


class _Counting(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = b'{"type": "string"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    _Counting.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_remote_ref_is_refused_at_start_and_never_fetched(
    tmp_path: Path, schema_server: str
) -> None:
    remote = {"type": "object", "properties": {"a": {"$ref": f"{schema_server}/a.json"}}}
    path = _schema(tmp_path, "remote.json", json.dumps(remote))
    for command in (["parse", "a post"], ["process", "--until-idle"]):
        result = run_cli(*command, cwd=tmp_path, LLM_API_KEY=KEY, LLM_SCHEMA_FILE=str(path))
        one_line(result, 2, "references outside the file are not fetched")
    assert _Counting.requests == []


def test_a_mongodb_srv_name_that_does_not_resolve_is_one_line_exit_3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resolver is replaced: no DNS query leaves the machine."""
    import dns.resolver
    from pymongo.asynchronous import srv_resolver

    async def nxdomain(*args: Any, **kwargs: Any) -> Any:
        raise dns.resolver.NXDOMAIN(qnames=[args[0]], responses={})

    monkeypatch.setattr(srv_resolver, "_resolve", nxdomain)
    monkeypatch.setenv(
        "MONGODB_URI", "mongodb+srv://user:hunter2-secret@cluster.nonexistent.invalid/"
    )
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cluster.nonexistent.invalid" in lines[0], result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


# -- E.6: LOG_LEVEL=DEBUG brings no HTTP chatter -----------------------------------------


def test_debug_logs_have_no_http_library_chatter(simulator_url: str, tmp_path: Path) -> None:
    _stored_posts(tmp_path, ["a post about the fair", "another post"])

    def chatter(**levels: str) -> list[str]:
        with sqlite3.connect(tmp_path / "store.sqlite3") as db:  # parse the posts again
            db.execute("update incoming_messages set processing_status = 'pending'")
            db.execute("delete from parse_cache")
        result = run_cli(
            "process", "--until-idle", cwd=tmp_path, **llm_env(simulator_url, **levels)
        )
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(tmp_path / "store.sqlite3") as db:
            done = db.execute(
                "select count(*) from incoming_messages where processing_status = 'done'"
            )
            assert done.fetchone()[0] == 2
        return [
            line for line in result.stderr.splitlines() if "httpcore" in line or "httpx" in line
        ]

    assert chatter(LOG_LEVEL="DEBUG") == []
    asked = chatter(LOG_LEVEL="DEBUG", LOG_LIBRARIES="DEBUG")
    print(f"LOG_LEVEL=DEBUG: 0 HTTP library lines; with LOG_LIBRARIES=DEBUG: {len(asked)}")
    assert len(asked) > 10
