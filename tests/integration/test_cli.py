"""The command line as a subprocess: help, bad settings, status, requeue/reset, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "channel_parser.bootstrap.cli"]
SAFE_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("LLM_", "TELEGRAM_", "ADMIN_", "MONGODB_", "SQLITE_"))
}


def cli(*args: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env={**SAFE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in (
        "demo",
        "run",
        "process",
        "import",
        "export",
        "show",
        "status",
        "requeue",
        "reset",
        "resume",
        "parse",
        "simulate-zai",
        "login",
    ):
        assert f"  {command} " in result.stdout or f"  {command}\n" in result.stdout, command
    version = cli("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("channel-parser ")


@pytest.mark.parametrize(
    ("name", "value"),
    [("LLM_TIMEOUT", "soon"), ("CONCURRENCY_MAX", "0"), ("LLM_PROVIDER", "skynet")],
)
def test_a_bad_setting_stops_with_one_line_naming_it(tmp_path: Path, name: str, value: str) -> None:
    result = cli("status", cwd=tmp_path, **{name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"channel-parser: error: setting {name}:")
    assert "Traceback" not in result.stderr


def test_a_bad_setting_in_dotenv_is_named_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLL_SECONDS=-1\n")
    result = cli("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("channel-parser: error: setting POLL_SECONDS:")


def test_an_unreachable_database_stops_with_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    result = cli(
        "status",
        cwd=tmp_path,
        timeout=90,
        MONGODB_URI="mongodb://operator:hunter2-secret@127.0.0.1:1/?serverSelectionTimeoutMS=500",
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("channel-parser: error: storage unavailable:")
    assert "hunter2-secret" not in result.stderr


def test_status_json_requeue_and_reset_on_an_imported_export(tmp_path: Path) -> None:
    db = str(tmp_path / "store.sqlite3")
    export = Path(__file__).parents[1] / "data" / "exports" / "single_channel.json"
    assert cli("import", str(export), cwd=tmp_path, SQLITE_PATH=db).returncode == 0
    status = cli("status", "--json", cwd=tmp_path, SQLITE_PATH=db)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["messages"]["pending"] == report["total"] > 0
    assert report["quota_gate"]["state"] == "open"
    assert report["retry_histogram"] == []
    assert report["learned_concurrency_limit"] is None

    requeued = cli("requeue", "--status", "pending", cwd=tmp_path, SQLITE_PATH=db)
    assert requeued.returncode == 0
    assert requeued.stdout.strip() == f"requeued {report['total']} message(s)"
    nothing = cli("requeue", cwd=tmp_path, SQLITE_PATH=db)
    assert nothing.returncode == 2
    unknown = cli("reset", "--", "-100/1", cwd=tmp_path, SQLITE_PATH=db)
    assert unknown.returncode == 1
    bad = cli("reset", "not-an-id", cwd=tmp_path, SQLITE_PATH=db)
    assert bad.returncode == 2
    resumed = cli("resume", cwd=tmp_path, SQLITE_PATH=db)
    assert resumed.returncode == 0
    assert resumed.stdout.startswith("gate open (was open)")


def test_demo_runs_the_main_job_with_no_settings(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Demo summary" in out
    assert "🚨 Исчерпан лимит LLM API!" in out  # the balance ran out midway
    assert "✅ Лимит LLM API восстановлен!" in out  # and the service resumed by itself
    done = next(line for line in out.splitlines() if line.startswith("│ done "))
    imported = next(line for line in out.splitlines() if line.startswith("│ posts imported"))
    assert done.split("│")[2].strip() == imported.split("│")[2].strip() == "208"
    # it ends by showing one parsed post: its result and what it cost
    shown = out[out.index("One parsed post (channel-parser show -- -1001700000001/") :]
    assert '"summary":' in shown and "model        glm-4.6" in shown
    assert "in 1 call(s)" in shown
    assert not list(tmp_path.iterdir())  # nothing left behind in the working folder
