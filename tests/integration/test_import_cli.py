"""``channel-parser import`` as a subprocess on a temporary SQLite file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "exports"
CLI = [sys.executable, "-c", "from channel_parser.bootstrap.cli import main; main()"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    env["SQLITE_PATH"] = str(cwd / "store.sqlite3")
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def stored_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from incoming_messages").fetchone()[0])


def summary_row(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if label in line)
    return line.split("│")[-2].strip()


def test_import_twice_second_adds_nothing(tmp_path: Path) -> None:
    first = run_cli("import", str(DATA / "single_channel.json"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert summary_row(first.stdout, "stored (new)") == "3"
    assert summary_row(first.stdout, "skipped: service message") == "2"
    assert summary_row(first.stdout, "skipped: no text") == "1"
    assert stored_count(tmp_path / "store.sqlite3") == 3

    second = run_cli("import", str(DATA / "single_channel.json"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary_row(second.stdout, "stored (new)") == "0"
    assert summary_row(second.stdout, "already there") == "3"
    assert stored_count(tmp_path / "store.sqlite3") == 3


def test_malformed_file_fails_with_one_line_naming_the_position(tmp_path: Path) -> None:
    result = run_cli("import", str(DATA / "malformed.json"), cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "malformed.json: line 8, column 62: Expecting ',' delimiter" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store.sqlite3").exists()  # nothing was opened, nothing half-written


def test_truncated_file_fails_before_storing_anything(tmp_path: Path) -> None:
    result = run_cli("import", str(DATA / "truncated.json"), cwd=tmp_path)
    assert result.returncode != 0
    assert "truncated" in result.stderr
    assert not (tmp_path / "store.sqlite3").exists()


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli("import", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"channel-parser: error: {tmp_path / 'nope.json'}: No such file or directory"
    ]


def test_whole_account_with_all_chats_and_an_unknown_zone(tmp_path: Path) -> None:
    result = run_cli("import", "--all-chats", str(DATA / "whole_account.json"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_row(result.stdout, "stored (new)") == "5"
    bad = run_cli(
        "import", "--timezone", "Mars/Olympus", str(DATA / "old_format.json"), cwd=tmp_path
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "channel-parser: error: --timezone: unknown time zone 'Mars/Olympus'"
    )
