"""The wheel installs one namespace, channel_parser, and nothing else (docs/adr/0009)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=240,
    )
    (built,) = out.glob("channel_parser-*.whl")
    return built


def test_the_wheel_holds_only_the_channel_parser_namespace(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"channel_parser", wheel.name.split("-py")[0] + ".dist-info"}
    # the shipped prompt, schemas and the demo's sample export travel with it
    assert "channel_parser/adapters/llm/defaults/post.schema.json" in names
    assert "channel_parser/bootstrap/demo/sample_export.json" in names


def test_a_fresh_environment_with_the_wheel_runs(wheel: Path, tmp_path: Path) -> None:
    """A new venv (no editable install in it) with the wheel: the CLI answers, the bare
    layer names are not importable, and the namespace gives SPEC.md's backoff table."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-warn-script-location",
            "--ignore-installed",  # never touch this environment's own (editable) install
            "--prefix",
            str(env_dir),
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    python = env_dir / "bin" / "python"
    # The dependencies come from this environment's site-packages, put on PYTHONPATH (so
    # that its .pth files, the editable install's import hook among them, are not run).
    deps = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args],
            check=False,
            env=deps,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    version = run(str(env_dir / "bin" / "channel-parser"), "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("channel-parser ")
    for bare in ("domain", "application", "adapters", "bootstrap"):
        assert run("-c", f"import {bare}").returncode != 0, bare
    table = run(
        "-c",
        "import channel_parser, channel_parser.domain.backoff as b;"
        "print(channel_parser.__file__);"
        "print([b.BackoffPolicy().delay(n).total_seconds() for n in range(1, 8)])",
    )
    assert table.returncode == 0, table.stderr
    where, delays = table.stdout.splitlines()
    assert where.startswith(str(env_dir))
    assert delays == "[30.0, 60.0, 120.0, 240.0, 480.0, 480.0, 480.0]"
