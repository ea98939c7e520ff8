"""Logging in SPEC.md's shape, with every configured secret masked in every record."""

from __future__ import annotations

import logging
import sys
import urllib.parse

from channel_parser.bootstrap.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s - %(message)s"
MASK = "***"


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (the password inside MONGODB_URI included)."""
    values = []
    for field in ("llm_api_key", "telegram_api_hash", "admin_bot_token", "mongodb_uri"):
        secret = getattr(settings, field)
        if secret is not None:
            values.append(secret.get_secret_value())
    if settings.mongodb_uri is not None:
        uri = settings.mongodb_uri.get_secret_value()
        if "@" in uri and "://" in uri:
            credentials = uri.split("://", 1)[1].rsplit("@", 1)[0]
            passwords = [part for part in credentials.split(":", 1)[1:] if part]
            # as written (percent-encoded) and as the driver may echo it, decoded
            values.extend([*passwords, *map(urllib.parse.unquote, passwords)])
    return [value for value in values if len(value) >= 4]


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        masked = self._mask(text)
        if masked != text or record.args:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        return True

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


# Our own loggers: LOG_LEVEL. Every other library's (httpx2, httpcore2, openai, pymongo,
# telethon, aiohttp, ... whatever their names): LOG_LIBRARIES, WARNING by default, so that
# LOG_LEVEL=DEBUG does not bring their chatter (a line per HTTP event) with it.
OURS = "channel_parser"


def configure_logging(settings: Settings, level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_libraries)
    logging.getLogger(OURS).setLevel(level or settings.log_level)
