"""openai SDK exceptions -> LLMFailure, and the log line's shape; built offline."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import httpx2
import openai
import pytest

from channel_parser.adapters.llm.logs import log_failure
from channel_parser.adapters.llm.redact import redact
from channel_parser.adapters.llm.sdk_errors import failure_from_sdk_error, sdk_error_text
from channel_parser.domain.failures import FailureKind

NOW = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/api/paas/v4/chat/completions")
CONCURRENCY_BODY = {
    "error": {
        "code": "1302",
        "message": "High concurrency usage of this API, please reduce concurrency or contact "
        "customer service to increase limits",
    }
}


def status_error(
    status: int, body: object, headers: dict[str, str] | None = None
) -> openai.APIStatusError:
    """The exception the SDK raises for this reply, made by the SDK's own code path."""
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx2.Response(status, headers=headers or {}, content=content, request=REQUEST)
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:1", max_retries=0)
    return client._make_status_error_from_response(response)


def test_a_1302_from_the_sdk() -> None:
    exc = status_error(429, CONCURRENCY_BODY)
    assert isinstance(exc, openai.RateLimitError) and exc.code == "1302"
    failure = failure_from_sdk_error(exc, NOW, 60)
    assert (failure.kind, failure.code) == (FailureKind.CONCURRENCY_LIMITED, "1302")


def test_the_sdk_error_text_has_the_spec_shape() -> None:
    text = sdk_error_text(status_error(429, CONCURRENCY_BODY))
    assert text == (
        "Error code: 429 - {'error': {'code': '1302', 'message': 'High concurrency usage of "
        "this API, please reduce concurrency or contact customer service to increase "
        "limits'}}"
    )


def test_headers_reach_the_classifier() -> None:
    exc = status_error(429, {"error": {"code": "1303", "message": "x"}}, {"retry-after": "30"})
    failure = failure_from_sdk_error(exc, NOW, 60)
    assert failure.kind is FailureKind.RATE_LIMITED
    assert failure.retry_at is not None and (failure.retry_at - NOW).total_seconds() == 30


def test_a_non_json_error_body() -> None:
    failure = failure_from_sdk_error(status_error(502, "<html>Bad Gateway</html>"), NOW, 60)
    assert (failure.kind, failure.code) == (FailureKind.TRANSIENT, "502")


def test_timeouts_and_connection_errors() -> None:
    timeout = failure_from_sdk_error(openai.APITimeoutError(request=REQUEST), NOW, 5)
    assert (timeout.kind, timeout.code) == (FailureKind.TRANSIENT, "timeout")
    conn = failure_from_sdk_error(openai.APIConnectionError(request=REQUEST), NOW, 5)
    assert (conn.kind, conn.code) == (FailureKind.TRANSIENT, "connection")


def test_anything_else_is_transient_not_raised() -> None:
    assert failure_from_sdk_error(ValueError("odd"), NOW, 5).kind is FailureKind.TRANSIENT


def test_the_concurrency_log_line(caplog: pytest.LogCaptureFixture) -> None:
    exc = status_error(429, CONCURRENCY_BODY)
    failure = failure_from_sdk_error(exc, NOW, 60)
    logger = logging.getLogger("channel_parser.adapters.llm.openai_compatible")
    with caplog.at_level(logging.WARNING):
        log_failure(logger, failure, "123456", "zai", sdk_error_text(exc))
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        "LLM concurrency limit exceeded while parsing message 123456 (provider: zai): "
        f"{sdk_error_text(exc)}. Will retry with backoff."
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"error": {"code": "1113", "message": "Insufficient balance"}}, "1113"),
        (
            {
                "error": {
                    "code": "insufficient_quota",
                    "type": "insufficient_quota",
                    "message": "You exceeded your current quota",
                }
            },
            "insufficient_quota",
        ),
    ],
)
def test_quota_log_lines_are_recognisable(
    caplog: pytest.LogCaptureFixture, body: object, needle: str
) -> None:
    exc = status_error(429, body)
    failure = failure_from_sdk_error(exc, NOW, 60)
    assert failure.kind is FailureKind.QUOTA_EXHAUSTED
    with caplog.at_level(logging.WARNING):
        log_failure(logging.getLogger("t"), failure, "1/2", "zai", sdk_error_text(exc))
    assert "insufficient_quota" in caplog.text and needle in caplog.text


def test_redact_masks_the_key_and_its_echoed_ends() -> None:
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz"
    text = f"bad key {key}; Incorrect API key provided: {key[:8]}****{key[-8:]}"
    masked = redact(text, key)
    assert key not in masked and key[:8] not in masked and key[-8:] not in masked
    assert redact("nothing here", None, "") == "nothing here"
