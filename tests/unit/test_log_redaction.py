"""The logging filter that masks every configured secret (bootstrap/logs.py)."""

from __future__ import annotations

import io
import logging

from pydantic import SecretStr

from channel_parser.bootstrap.logs import FORMAT, RedactSecrets, secrets_of
from channel_parser.bootstrap.settings import Settings

KEY = "sk-unit-LLM-key-0123456789abcdef"
TOKEN = "123456789:AAHunitBotToken-abcdefghijklmnop"
HASH = "0123456789abcdef0123456789abcdef"


def settings(uri: str | None = None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm_api_key=SecretStr(KEY),
        admin_bot_token=SecretStr(TOKEN),
        telegram_api_hash=SecretStr(HASH),
        mongodb_uri=SecretStr(uri) if uri else None,
    )


def test_every_secret_of_the_settings_is_masked_including_the_database_password() -> None:
    uri = "mongodb://parser:p%40ss%3Aw0rd-long@db.example:27017/?authSource=admin"
    found = secrets_of(settings(uri))
    assert {KEY, TOKEN, HASH, uri, "p%40ss%3Aw0rd-long", "p@ss:w0rd-long"} <= set(found)


def test_no_database_password_when_the_uri_has_none() -> None:
    assert secrets_of(settings("mongodb://db.example:27017/")) == [
        KEY,
        HASH,
        TOKEN,
        "mongodb://db.example:27017/",
    ]


def logged(*secrets: str, emit: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(list(secrets)))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_secret_in_the_message_its_arguments_or_a_traceback_is_masked() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.warning("key %s and token %r", KEY, TOKEN)
        logger.error(f"inline {HASH}")
        try:
            raise RuntimeError(f"the driver said {KEY}")
        except RuntimeError:
            logger.exception("failed")

    text = logged(KEY, TOKEN, HASH, emit=emit)
    assert "key *** and token '***'" in text and "inline ***" in text
    assert "RuntimeError: the driver said ***" in text
    assert KEY not in text and TOKEN not in text and HASH not in text


def test_a_record_without_secrets_is_left_as_it_is() -> None:
    text = logged(KEY, emit=lambda logger: logger.warning("%d posts in %s", 3, "-100/5"))
    assert text.endswith("WARNING tests.redaction - 3 posts in -100/5\n")
