"""Making the Telethon client, with its session file readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path

from telethon import TelegramClient

from channel_parser.application.errors import ConfigurationError


def session_file(session: Path) -> Path:
    """The file Telethon uses for *session* (it appends ``.session`` when missing)."""
    return session if session.suffix == ".session" else session.with_name(session.name + ".session")


def protect_session(session: Path) -> Path:
    """Create the session file owner-only (0600) before Telethon writes the auth key into
    it, or make an existing one so; returns the file."""
    path = session_file(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)
    return path


def make_client(session: Path, api_id: int, api_hash: str) -> TelegramClient:
    """A client on *session* (not connected yet), the file made owner-only first. Telethon's
    own catch-up is left off: TelethonPostSource backfills from the store instead,
    without its long-gap losses."""
    path = protect_session(session)
    return TelegramClient(str(path), api_id, api_hash, catch_up=False)


def require_session(session: Path) -> None:
    """Refuse a missing session file with one line (and create nothing: a typo in
    TELEGRAM_SESSION must not leave a stray empty session behind)."""
    if not session_file(session).exists():
        raise ConfigurationError(
            f"TELEGRAM_SESSION {session_file(session)}: no such session; "
            "run `channel-parser login` first"
        )


def open_client(session: Path, api_id: int | None, api_hash: str | None) -> TelegramClient:
    """The client for `run`, on the session `login` made (see require_session)."""
    if api_id is None or api_hash is None:
        raise ConfigurationError("TELEGRAM_API_ID and TELEGRAM_API_HASH are needed to listen")
    require_session(session)
    return make_client(session, api_id, api_hash)
