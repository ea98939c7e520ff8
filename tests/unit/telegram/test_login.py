"""``channel-parser login``: the session file is owner-only; missing credentials are one line."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import channel_parser.adapters.telegram.client as client_module
import channel_parser.bootstrap.commands.login as login_module
from channel_parser.adapters.telegram.client import make_client, protect_session, session_file
from channel_parser.bootstrap.cli import app


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_session_file_name_follows_telethon() -> None:
    assert session_file(Path("a/channel-parser.session")) == Path("a/channel-parser.session")
    assert session_file(Path("a/main")) == Path("a/main.session")


def test_session_file_is_created_owner_only_and_tightened(tmp_path: Path) -> None:
    created = protect_session(tmp_path / "new" / "acct")
    assert created == tmp_path / "new" / "acct.session"
    assert mode(created) == 0o600
    loose = tmp_path / "old.session"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    protect_session(loose)
    assert mode(loose) == 0o600


async def test_make_client_uses_the_protected_session_without_connecting(tmp_path: Path) -> None:
    client = make_client(tmp_path / "acct.session", 12345, "0123456789abcdef")
    assert not client.is_connected()
    assert mode(tmp_path / "acct.session") == 0o600
    client.session.close()


class FakeLoginClient:
    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.disconnected = False
        self.dialogs_loaded = False

    async def start(self, **callbacks: Any) -> None:
        self.answers = {name: callback() for name, callback in callbacks.items()}

    async def get_me(self) -> Any:
        return type("Me", (), {"username": "operator"})()

    async def get_dialogs(self) -> list[Any]:
        self.dialogs_loaded = True
        return [object(), object()]

    async def disconnect(self) -> None:
        self.disconnected = True


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_SESSION"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_login_asks_phone_code_and_password(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeLoginClient()
    made: list[tuple[Path, int, str]] = []

    def fake_make(session: Path, api_id: int, api_hash: str) -> FakeLoginClient:
        made.append((session, api_id, api_hash))
        protect_session(session)
        return fake

    monkeypatch.setattr(client_module, "make_client", fake_make)  # imported at call time
    monkeypatch.setattr(login_module, "getpass", lambda prompt: "secret-2fa")
    monkeypatch.setenv("TELEGRAM_API_ID", "12345")
    monkeypatch.setenv("TELEGRAM_API_HASH", "0123456789abcdef")
    monkeypatch.setenv("TELEGRAM_SESSION", str(env / "acct.session"))
    result = CliRunner().invoke(app, ["login"], input="+70000000000\n12345\n")
    assert result.exit_code == 0, result.output
    assert fake.answers == {
        "phone": "+70000000000",
        "code_callback": "12345",
        "password": "secret-2fa",
    }
    assert fake.disconnected
    assert made == [(env / "acct.session", 12345, "0123456789abcdef")]
    assert "Signed in as operator" in result.output
    assert fake.dialogs_loaded  # -100… ids of the account's channels work from the start
    assert "knows the account's 2 chats" in result.output
    assert mode(env / "acct.session") == 0o600


def test_login_without_api_id_is_one_line(env: Path) -> None:
    result = CliRunner().invoke(app, ["login"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "channel-parser: error: setting TELEGRAM_API_ID: required for login "
        "(get it at https://my.telegram.org)"
    ]
