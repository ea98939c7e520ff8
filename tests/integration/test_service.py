"""``channel-parser run`` as a subprocess: parses what is stored, serves /healthz and
/metrics on loopback, and stops gracefully on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from channel_parser.simulator.server import API_PATH
from tests.integration.cli_support import CLI, free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError:  # not listening yet
        return 0, b""


def test_run_serves_health_and_metrics_and_stops_on_sigterm(
    tmp_path: Path,
    simulator_url: str,
) -> None:
    db = str(tmp_path / "service.sqlite3")
    cli = CLI
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "TELEGRAM_"))}
    export = Path(__file__).parents[1] / "data" / "exports" / "single_channel.json"
    subprocess.run(
        [*cli, "import", str(export)],
        env={**env, "SQLITE_PATH": db},
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    port = free_port()
    service = subprocess.Popen(
        [*cli, "run"],
        env={
            **env,
            "SQLITE_PATH": db,
            "LLM_BASE_URL": simulator_url + API_PATH,
            "LLM_API_KEY": "sk-service-test-key",
            "METRICS_PORT": str(port),
        },
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        metrics = b""
        for _ in range(150):
            time.sleep(0.2)
            status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
            if (
                status == 200
                and b'channel_parser_messages_finished_total{status="done"} 3.0' in metrics
            ):
                break
        assert b'channel_parser_messages_finished_total{status="done"} 3.0' in metrics
        assert b'channel_parser_quota_gate{state="open"} 1.0' in metrics
        assert b"channel_parser_concurrency_limit" in metrics
        assert b'channel_parser_llm_calls_total{code="",outcome="success"}' in metrics
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert json.loads(body)["ok"] is True
        with socket.socket() as probe:  # loopback only by default
            host_ip = socket.gethostbyname(socket.gethostname())
            if not host_ip.startswith("127."):
                assert probe.connect_ex((host_ip, port)) != 0
    finally:
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    assert service.returncode == 0, err[-2000:]
    assert "SIGTERM received: stopping" in err
    assert "sk-service-test-key" not in out + err
