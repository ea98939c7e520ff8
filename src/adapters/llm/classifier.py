"""Map a provider's reply (status, error body, headers) to an ``LLMFailure``.

Decides by the provider's code first, then by the HTTP status; never by message text
alone. The message is read only for a retry time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from channel_parser.adapters.llm.codes import (
    OPENAI_CODES,
    OPENAI_RESET_IN_MESSAGE,
    ZAI_CODES,
    ZAI_RESET_IN_MESSAGE,
)
from channel_parser.adapters.llm.retry_time import retry_at_from_headers, retry_at_from_text
from channel_parser.domain.failures import FailureKind, LLMFailure

MAX_MESSAGE = 500


def error_object(body: object) -> dict[str, Any] | None:
    """The error object of a body: ``{"error": {...}}``, the inner object itself (as the SDK
    hands it over), or None when the body is not an error."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            return dict(inner)
        if isinstance(inner, str) and inner:
            return {"message": inner}
        if "code" in body and ("message" in body or "type" in body):
            return dict(body)
    return None


def classify_status(
    status: int, body: object, headers: Mapping[str, str], now: datetime
) -> LLMFailure:
    """Classify an HTTP reply that is not a usable completion. Never raises."""
    try:
        return _classify(status, body, headers, now)
    except Exception as exc:  # a classifier that raises would lose the message: be safe
        return LLMFailure(FailureKind.TRANSIENT, str(status), f"unclassifiable reply: {exc!r}")


def _classify(status: int, body: object, headers: Mapping[str, str], now: datetime) -> LLMFailure:
    error = error_object(body) or {}
    code = _text(error.get("code"))
    err_type = _text(error.get("type"))
    message = _message(error, body)
    kind, provider_code = _kind(status, code, err_type)
    retry_at = retry_at_from_headers(headers, now)
    if provider_code in ZAI_RESET_IN_MESSAGE or provider_code in OPENAI_RESET_IN_MESSAGE:
        from_text = retry_at_from_text(message, now)
        if from_text is not None and (retry_at is None or from_text > retry_at):
            retry_at = from_text
    return LLMFailure(kind, provider_code, message, retry_at)


def _kind(status: int, code: str | None, err_type: str | None) -> tuple[FailureKind, str]:
    if code is not None and code in ZAI_CODES:
        return ZAI_CODES[code], code
    for candidate in (code, err_type):
        if candidate is not None and candidate in OPENAI_CODES:
            return OPENAI_CODES[candidate], candidate
    return by_status(status), code or str(status)


def by_status(status: int) -> FailureKind:
    """The kind when the code says nothing we know."""
    if status in (401, 403, 404):
        return FailureKind.MISCONFIGURED  # bad key, no access, wrong URL or model
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status in (408, 409, 425) or status >= 500 or status < 400:
        return FailureKind.TRANSIENT  # includes an unknown error inside a 200
    return FailureKind.REJECTED


def _text(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip()
    return text or None


def _message(error: Mapping[str, Any], body: object) -> str:
    message = error.get("message")
    if isinstance(message, str) and message:
        return message[:MAX_MESSAGE]
    if body is None or body == "":
        return ""
    raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
    return raw[:MAX_MESSAGE]


def timeout_failure(timeout: float) -> LLMFailure:
    return LLMFailure(FailureKind.TRANSIENT, "timeout", f"no reply within {timeout:g} s")


def connection_failure(detail: str) -> LLMFailure:
    return LLMFailure(FailureKind.TRANSIENT, "connection", f"connection error: {detail}"[:500])
