"""Running the CLI as a subprocess, and a `simulate-zai` server for it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "channel_parser.bootstrap.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def simulator_url(tmp_path: Path) -> Iterator[str]:
    """A `channel-parser simulate-zai` process (hidden concurrency limit 6, 40 ms)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "simulate-zai",
            "--port",
            str(port),
            "--latency-ms",
            "40",
            "--concurrency-limit",
            "6",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert "listening" in proc.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
