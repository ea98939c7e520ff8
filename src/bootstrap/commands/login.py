"""``channel-parser login``: create the Telethon session interactively."""

from __future__ import annotations

from getpass import getpass
from typing import TYPE_CHECKING, Any

import typer

from channel_parser.application.errors import ConfigurationError
from channel_parser.bootstrap.app import app, fail, run_async
from channel_parser.bootstrap.settings import load_settings

if TYPE_CHECKING:
    from channel_parser.bootstrap.settings import Settings


@app.command()
def login() -> None:
    """Sign the Telegram account in (phone, code, 2FA password) and save the session file
    (readable by its owner only)."""
    try:
        run_async(_login())
    except (EOFError, KeyboardInterrupt):
        fail("login cancelled")


def _credentials(settings: Settings) -> tuple[int, str]:
    if settings.telegram_api_id is None:
        raise ConfigurationError(
            "setting TELEGRAM_API_ID: required for login (get it at https://my.telegram.org)"
        )
    if settings.telegram_api_hash is None:
        raise ConfigurationError(
            "setting TELEGRAM_API_HASH: required for login (get it at https://my.telegram.org)"
        )
    return settings.telegram_api_id, settings.telegram_api_hash.get_secret_value()


async def _login() -> None:
    from telethon import errors  # Telethon is heavy: imported when logging in only

    from channel_parser.adapters.telegram.client import make_client, protect_session

    settings = load_settings()
    api_id, api_hash = _credentials(settings)
    client = make_client(settings.telegram_session, api_id, api_hash)
    try:
        await client.start(
            phone=lambda: input("Phone number (international format, e.g. +7...): "),
            code_callback=lambda: input("The login code Telegram sent you: "),
            password=lambda: getpass("Two-step verification password: "),
        )
        me = await client.get_me()
        known = await _learn_dialogs(client)
    except errors.RPCError as exc:
        fail(f"login failed: {type(exc).__name__}: {str(exc).split(' (caused by ')[0]}")
    finally:
        await client.disconnect()
        path = protect_session(settings.telegram_session)
    name = getattr(me, "username", None) or getattr(me, "first_name", None) or "the account"
    typer.echo(f"Signed in as {name}; session saved to {path} (mode 0600).")
    if known is not None:
        typer.echo(f"The session knows the account's {known} chats (their -100… ids work).")


async def _learn_dialogs(client: Any) -> int | None:
    """Load the account's dialogs into the session's cache, so that channels given by a
    ``-100…`` id can be found (Telethon knows an id only once it has seen the channel).
    A flood wait or any Telegram error here is not worth failing the login for: `run`
    loads them again when an id is unknown."""
    from telethon import errors

    try:
        return len(await client.get_dialogs())
    except errors.RPCError as exc:
        typer.echo(f"(the chats were not loaded: {type(exc).__name__}; `run` will load them)")
        return None
