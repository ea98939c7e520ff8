"""A FerretDB process of a test's own that can be stopped and started again on the same
port with the same data folder (launched as scripts/ferretdb launches it)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

ROOT = Path(__file__).resolve().parents[2]


def ferretdb_binary() -> str:
    """The binary scripts/ferretdb builds (once) and caches."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "ferretdb"), "build"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout.strip().splitlines()[-1]


class FerretDB:
    def __init__(self, binary: str, folder: Path, port: int) -> None:
        self._binary = binary
        self._folder = folder
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30) -> None:
        (self._folder / "data").mkdir(parents=True, exist_ok=True)
        (self._folder / "state").mkdir(parents=True, exist_ok=True)
        with (self._folder / "ferretdb.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    self._binary,
                    "--handler=sqlite",
                    f"--sqlite-url=file:{self._folder}/data/",
                    f"--state-dir={self._folder}/state",
                    f"--listen-addr=127.0.0.1:{self.port}",
                    "--debug-addr=-",
                    "--telemetry=disable",
                    "--log-level=WARN",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"ferretdb exited with {self._proc.returncode}")
            try:
                with MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except PyMongoError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ferretdb did not answer ping on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, every open connection with it."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 5 s); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
