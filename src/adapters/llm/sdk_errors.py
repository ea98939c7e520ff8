"""Translate ``openai`` SDK exceptions into ``LLMFailure`` values (they stop here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import openai

from channel_parser.adapters.llm.classifier import (
    classify_status,
    connection_failure,
    timeout_failure,
)
from channel_parser.domain.failures import FailureKind, LLMFailure


def failure_from_sdk_error(exc: BaseException, now: datetime, timeout: float) -> LLMFailure:
    """Classify anything the SDK raised. Never raises."""
    if isinstance(exc, openai.APITimeoutError):
        return timeout_failure(timeout)
    if isinstance(exc, openai.APIConnectionError):
        return connection_failure(_cause(exc))
    if isinstance(exc, openai.APIStatusError):
        return classify_status(exc.status_code, full_body(exc), dict(exc.response.headers), now)
    if isinstance(exc, openai.APIError):  # e.g. a response that does not fit the SDK's model
        return LLMFailure(FailureKind.TRANSIENT, "invalid_response", str(exc)[:500])
    return LLMFailure(FailureKind.TRANSIENT, type(exc).__name__, str(exc)[:500])


def full_body(exc: openai.APIStatusError) -> object:
    """The whole JSON body of the reply (the SDK keeps only the inner error object)."""
    try:
        return exc.response.json()
    except Exception:
        return {"error": exc.body} if isinstance(exc.body, dict) else exc.body


def sdk_error_text(exc: BaseException) -> str:
    """The SDK's error in the shape SPEC.md's log line shows: ``Error code: 429 - {...}``.

    Recent SDKs print only the inner message, so the text is rebuilt from the body."""
    if isinstance(exc, openai.APIStatusError):
        body: Any = full_body(exc)
        shown = body if body not in (None, "") else exc.message
        if isinstance(shown, str):  # an HTML or text body: keep the log line one line
            shown = " ".join(shown.split())[:500]
        return f"Error code: {exc.status_code} - {shown}"
    return str(exc) or type(exc).__name__


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
