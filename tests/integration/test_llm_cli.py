"""``channel-parser simulate-zai`` and ``channel-parser parse`` as subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("channel-parser"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    """A running ``simulate-zai`` server; yields its root URL; stops it with Ctrl-C."""
    port = free_port()
    proc = subprocess.Popen(
        [
            CLI,
            "simulate-zai",
            "--port",
            str(port),
            "--latency-ms",
            "20",
            "--seed",
            "1",
            "--trigger",
            "CROWD=1302",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once it listens
        assert f"listening on http://127.0.0.1:{port}/api/paas/v4" in line, proc.stderr
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "simulator stopped" in out


def admin(root: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(root + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


async def run_parse(
    env: dict[str, str], cwd: Path, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "parse",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_parse_against_simulate_zai(simulator: str, tmp_path: Path) -> None:
    admin(
        simulator,
        "/admin/faults",
        {"triggers": {"CROWD": "1302", "BROKE": "1113", "UNSAFE": "1301"}},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    env |= {
        "LLM_PROVIDER": "zai",
        "LLM_BASE_URL": f"{simulator}/api/paas/v4",
        "LLM_API_KEY": "sk-cli-test-key",
        "LLM_TIMEOUT": "10",
    }
    no_key = {k: v for k, v in env.items() if k != "LLM_API_KEY"}
    # in parallel: each start of the CLI costs seconds on a busy machine
    ok, crowd, broke, missing = await asyncio.gather(
        run_parse(env, tmp_path, "-f", "-", stdin="Привет из канала. #news"),
        run_parse(env, tmp_path, "a CROWD post"),
        run_parse(env, tmp_path, "a BROKE post", "--json"),
        run_parse(no_key, tmp_path, "no key"),
    )
    assert ok[0] == 0, ok[2]
    assert json.loads(ok[1])["topics"] == ["news"] and json.loads(ok[1])["language"] == "ru"
    assert crowd[0] == 5 and crowd[1] == ""
    assert crowd[2].strip().splitlines() == [
        "channel-parser: error: concurrency_limited (code 1302): High concurrency usage of this "
        "API, please reduce concurrency or contact customer service to increase limits"
    ]
    assert broke[0] == 4
    assert json.loads(broke[1]) == {
        "ok": False,
        "kind": "quota_exhausted",
        "code": "1113",
        "message": "Insufficient balance or no resource package. Please recharge.",
    }
    assert missing[0] == 2
    assert missing[2].strip() == (
        "channel-parser: error: setting LLM_API_KEY: required for provider 'zai'"
    )
    stats = admin(simulator, "/admin/stats")
    assert isinstance(stats, dict)
    assert stats["successes"] == 1
    assert stats["rejections"] == {"1302": 1, "1113": 1}


def test_simulate_zai_refuses_a_malformed_limit_schedule_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "simulate-zai", "--port", "0", "--limit-schedule", "8,4@later"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "channel-parser: error: --limit-schedule: limit schedule '8,4@later': expected "
        "LIMIT[,LIMIT@SECONDS...], e.g. 8,4@15,12@30"
    ]
