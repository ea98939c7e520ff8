"""``channel-parser import`` as a subprocess on a temporary SQLite file: a second import
adds nothing, bad files are one line (exit 2) and store nothing, a whole-account export
gives only its channels by default, and a hidden link reaches the store and the LLM."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from channel_parser.simulator.server import API_PATH, ZaiSimulator
from tests.integration.scale_support import simulator_stats

DATA = Path(__file__).resolve().parents[1] / "data" / "exports"
CLI = [sys.executable, "-c", "from channel_parser.bootstrap.cli import main; main()"]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    keep = ("MONGODB_", "LLM_", "ADMIN_", "TELEGRAM_")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(keep)}, **(env or {})}
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
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "malformed.json: line 8, column 76: parse error" in lines[0]
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


def stored_channels(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("select channel_id, count(*) from incoming_messages group by 1")
        return dict(rows.fetchall())


def test_whole_account_export_stores_only_its_channels_by_default(tmp_path: Path) -> None:
    """A channel, a supergroup and a personal chat: only the channels' posts by default."""
    result = run_cli("import", str(DATA / "whole_account.json"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stored_channels(tmp_path / "store.sqlite3") == {-1002223334445: 2, -1009998887776: 1}
    assert summary_row(result.stdout, "skipped: chat is a group (--groups to import it)") == "2"
    assert summary_row(result.stdout, "skipped: chat is not a channel") == "2"
    groups = run_cli("import", "--groups", str(DATA / "whole_account.json"), cwd=tmp_path)
    assert summary_row(groups.stdout, "stored (new)") == "1"  # the supergroup's one post
    picked = run_cli(
        "import", "--chat", "Anna (test)", str(DATA / "whole_account.json"), cwd=tmp_path
    )
    assert summary_row(picked.stdout, "stored (new)") == "1"
    assert stored_channels(tmp_path / "store.sqlite3")[888000002] == 1
    none = run_cli("import", "--chat", "nobody", str(DATA / "whole_account.json"), cwd=tmp_path)
    assert none.returncode == 2
    assert none.stderr.strip().splitlines() == [
        f"channel-parser: error: --chat: no chat of {DATA / 'whole_account.json'} is named 'nobody'"
    ]


def test_whole_account_with_all_chats_and_an_unknown_zone(tmp_path: Path) -> None:
    result = run_cli("import", "--all-chats", str(DATA / "whole_account.json"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_row(result.stdout, "stored (new)") == "6"
    bad = run_cli(
        "import", "--timezone", "Mars/Olympus", str(DATA / "old_format.json"), cwd=tmp_path
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "channel-parser: error: --timezone: unknown time zone 'Mars/Olympus'"
    )


def test_an_id_of_2_to_the_63_is_one_line(tmp_path: Path) -> None:
    """Issue 12: it ended in OverflowError and a traceback (SQLite's integers end there)."""
    export = tmp_path / "result.json"
    export.write_text(
        '{"name": "x", "type": "public_channel", "id": 5, "messages": ['
        '{"id": 9223372036854775808, "type": "message", "text": "big"}]}'
    )
    result = run_cli("import", str(export), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"channel-parser: error: {export}: messages[0].id: out of range (1 to 2147483647): "
        "9223372036854775808"
    ]
    assert not (tmp_path / "store.sqlite3").exists()


def test_dev_zero_as_the_export_is_one_line(tmp_path: Path) -> None:
    """Issue 12: /dev/zero ended in MemoryError (the whole file was read at once)."""
    result = run_cli("import", "/dev/zero", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "channel-parser: error: /dev/zero: line 1, column 1: lexical error: "
        "invalid char in json text"
    ]


def test_a_hidden_link_reaches_the_store_and_the_llm(tmp_path: Path, simulator_url: str) -> None:
    """Issue 17: "Apply here" -> https://... was stored as "Apply here", the URL gone."""
    export = tmp_path / "result.json"
    text = [
        "Python dev wanted. ",
        {"type": "text_link", "text": "Apply here", "href": "https://jobs.example/apply/7"},
    ]
    export.write_text(
        json.dumps(
            {
                "name": "Jobs",
                "type": "public_channel",
                "id": 5,
                "messages": [
                    {"id": 1, "type": "message", "date_unixtime": "1769366571", "text": text}
                ],
            }
        )
    )
    assert run_cli("import", str(export), cwd=tmp_path).returncode == 0
    env = {"LLM_BASE_URL": simulator_url + API_PATH, "LLM_API_KEY": "sk-test", "METRICS_PORT": "0"}
    done = run_cli("process", "--until-idle", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        stored, result = db.execute("select text, result from incoming_messages").fetchone()
    assert stored == "Python dev wanted. [Apply here](https://jobs.example/apply/7)"
    # what the LLM received inside <post>…</post> was exactly that text, URL and all
    seen = simulator_stats(simulator_url)["successes_by_text"]
    assert seen == {ZaiSimulator.text_key(stored): 1}
    assert json.loads(result)["links"][0].startswith("https://jobs.example/apply/7")
