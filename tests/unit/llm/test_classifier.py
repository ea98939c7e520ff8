"""Every row of the reference's tables: (status, body, headers) -> failure kind and code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.adapters.llm.classifier import (
    classify_status,
    connection_failure,
    timeout_failure,
)
from channel_parser.domain.failures import FailureKind, LLMFailure

NOW = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
Q, C, R = FailureKind.QUOTA_EXHAUSTED, FailureKind.CONCURRENCY_LIMITED, FailureKind.RATE_LIMITED
T, X, M = FailureKind.TRANSIENT, FailureKind.REJECTED, FailureKind.MISCONFIGURED


def zai(code: str, message: str = "any text, in any language") -> dict[str, object]:
    return {"error": {"code": code, "message": message}, "request_id": "req-1"}


# (code, HTTP status Z.AI answers with, expected kind): one row per code of the table.
ZAI_ROWS = [
    *[(str(c), 401, M) for c in (1000, 1001, 1002, 1003, 1004)],
    *[(str(c), 429, M) for c in (1110, 1111, 1112)],
    ("1113", 429, Q),
    ("1120", 429, T),
    ("1121", 429, M),
    *[(str(c), 400, X) for c in (1210, 1212, 1213, 1214, 1215)],
    ("1211", 400, M),
    *[(str(c), 400, M) for c in (1220, 1221, 1222)],
    ("1230", 400, T),
    ("1231", 400, T),
    ("1234", 500, T),
    ("1261", 400, X),
    ("1300", 400, X),
    ("1301", 400, X),
    ("1302", 429, C),
    ("1303", 429, R),
    ("1304", 429, Q),
    ("1305", 429, T),
    ("1305", 200, T),  # seen inside an HTTP 200
    ("1308", 429, Q),
    ("1309", 429, Q),
    ("1310", 429, Q),
    ("1311", 429, M),
    ("1312", 429, T),
    ("1312", 503, T),  # its status is unconfirmed: the code decides
    ("1313", 429, R),
]


@pytest.mark.parametrize(("code", "status", "kind"), ZAI_ROWS)
def test_every_zai_code(code: str, status: int, kind: FailureKind) -> None:
    failure = classify_status(status, zai(code), {}, NOW)
    assert (failure.kind, failure.code) == (kind, code)
    assert failure.message == "any text, in any language"


def test_zai_code_wins_whatever_the_message_says() -> None:
    # a 1302 has been seen with a "rate limit" text: the code decides, not the words
    body = zai("1302", "Rate limit reached for requests")
    assert classify_status(429, body, {}, NOW).kind is C
    # and a concurrency-sounding text on 1303 stays a rate limit
    assert classify_status(429, zai("1303", "High concurrency usage"), {}, NOW).kind is R


def test_the_sdk_inner_error_object_is_understood_too() -> None:
    # openai's e.body is the inner object: {"code": "1302", "message": ...}
    assert classify_status(429, {"code": "1302", "message": "x"}, {}, NOW).kind is C


OPENAI_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details."
)

OPENAI_ROWS = [
    (  # insufficient_quota with code set
        429,
        {
            "message": OPENAI_QUOTA_MESSAGE,
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        },
        Q,
        "insufficient_quota",
    ),
    (  # older replies: code null, type set
        429,
        {
            "message": OPENAI_QUOTA_MESSAGE,
            "type": "insufficient_quota",
            "param": None,
            "code": None,
        },
        Q,
        "insufficient_quota",
    ),
    (
        429,
        {
            "message": "Rate limit reached for gpt-4o-mini on requests per min (RPM). "
            "Please try again in 26.604s.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        },
        R,
        "rate_limit_exceeded",
    ),
    (
        400,
        {
            "message": "This model's maximum context length is 128000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
        X,
        "context_length_exceeded",
    ),
    (
        401,
        {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        },
        M,
        "invalid_api_key",
    ),
    (
        404,
        {
            "message": "The model `gpt-9` does not exist",
            "type": "invalid_request_error",
            "code": "model_not_found",
        },
        M,
        "model_not_found",
    ),
    (
        500,
        {"message": "The server had an error", "type": "server_error", "code": None},
        T,
        "server_error",
    ),
]


@pytest.mark.parametrize(("status", "error", "kind", "code"), OPENAI_ROWS)
def test_openai_errors(status: int, error: dict[str, object], kind: FailureKind, code: str) -> None:
    failure = classify_status(status, {"error": error}, {}, NOW)
    assert (failure.kind, failure.code) == (kind, code)


STATUS_ROWS = [
    (401, M),
    (403, M),
    (404, M),
    (429, R),  # unknown 429
    (500, T),
    (502, T),
    (503, T),
    (504, T),
    (529, T),  # unknown 5xx
    (400, X),
    (413, X),
    (422, X),  # unknown 4xx
    (408, T),
    (409, T),
    (200, T),  # an unknown error object inside a 200 is no completion
]


@pytest.mark.parametrize(("status", "kind"), STATUS_ROWS)
def test_by_status_when_the_code_is_unknown(status: int, kind: FailureKind) -> None:
    for body in (
        {"error": {"code": "9999", "message": "?"}},
        {"error": {"message": "?"}},
        "<html>Bad Gateway</html>",
        None,
    ):
        failure = classify_status(status, body, {}, NOW)
        assert failure.kind is kind, body
    assert classify_status(status, {"error": {"message": "?"}}, {}, NOW).code == str(status)


def test_a_plain_text_body_becomes_the_message() -> None:
    failure = classify_status(502, "<html>Bad Gateway</html>", {}, NOW)
    assert failure.message == "<html>Bad Gateway</html>"


def test_timeouts_and_connection_errors_are_transient() -> None:
    assert timeout_failure(60) == LLMFailure(T, "timeout", "no reply within 60 s")
    assert connection_failure("reset by peer").kind is T


# -- retry times ------------------------------------------------------------------------

HEADER_ROWS = [
    ({"retry-after-ms": "1500"}, timedelta(seconds=1.5)),
    ({"Retry-After": "7"}, timedelta(seconds=7)),
    ({"retry-after": "Sun, 25 Jan 2026 18:43:51 GMT"}, timedelta(seconds=60)),
    ({"x-ratelimit-reset-requests": "120ms"}, timedelta(milliseconds=120)),
    ({"x-ratelimit-reset-tokens": "6m0s"}, timedelta(minutes=6)),
    ({"x-ratelimit-reset-tokens": "1h2m3.5s"}, timedelta(hours=1, minutes=2, seconds=3.5)),
    (  # the exhausted limit's reset, not the other one's
        {
            "x-ratelimit-reset-requests": "2s",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-tokens": "6m0s",
            "x-ratelimit-remaining-tokens": "5000",
        },
        timedelta(seconds=2),
    ),
    (  # several hints: the latest wins
        {"retry-after": "3", "retry-after-ms": "5000", "x-ratelimit-reset-requests": "1s"},
        timedelta(seconds=5),
    ),
]


@pytest.mark.parametrize(("headers", "delay"), HEADER_ROWS)
def test_retry_time_from_headers(headers: dict[str, str], delay: timedelta) -> None:
    failure = classify_status(429, zai("1303"), headers, NOW)
    assert failure.retry_at == NOW + delay


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": "soon"},
        {"retry-after-ms": "-5"},
        {"x-ratelimit-reset-tokens": "6x"},
        {"retry-after": "99999999999"},
    ],
)
def test_no_or_garbled_retry_headers_give_no_retry_time(headers: dict[str, str]) -> None:
    assert classify_status(429, zai("1302"), headers, NOW).retry_at is None


def test_1308_names_its_reset_time_in_beijing_time() -> None:
    body = zai(
        "1308", "Usage limit reached for 5 hour. Your limit will reset at 2026-01-26 05:38:28"
    )
    failure = classify_status(429, body, {}, NOW)
    assert failure.kind is Q
    assert failure.retry_at == datetime(2026, 1, 25, 21, 38, 28, tzinfo=UTC)


def test_1310_reset_time_with_an_explicit_zone() -> None:
    body = zai(
        "1310", "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-02-01T00:00:00Z"
    )
    assert classify_status(429, body, {}, NOW).retry_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_1308_without_a_time_has_no_retry_time() -> None:
    assert classify_status(429, zai("1308", "Usage limit reached"), {}, NOW).retry_at is None


def test_openai_try_again_in() -> None:
    body = {
        "error": {
            "message": "Rate limit reached. Please try again in 26.604s.",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    assert classify_status(429, body, {}, NOW).retry_at == NOW + timedelta(seconds=26.604)


def test_a_time_in_the_text_of_other_codes_is_ignored() -> None:
    body = zai("1302", "busy since 2026-01-26 05:38:28")
    assert classify_status(429, body, {}, NOW).retry_at is None


# -- never an exception -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = json_values | st.fixed_dictionaries(
    {
        "error": st.fixed_dictionaries(
            {
                "code": json_values | st.sampled_from(["1302", "1308", "insufficient_quota"]),
                "message": json_values,
                "type": json_values,
            }
        )
    }
)
header_names = st.sampled_from(
    [
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-other",
    ]
)


@given(
    status=st.integers(min_value=0, max_value=999),
    body=bodies,
    headers=st.dictionaries(header_names, st.text(max_size=40), max_size=5),
)
def test_any_reply_is_classified_never_raised(
    status: int, body: object, headers: dict[str, str]
) -> None:
    failure = classify_status(status, body, headers, NOW)
    assert isinstance(failure, LLMFailure)
    assert failure.kind in FailureKind
    assert failure.retry_at is None or failure.retry_at.tzinfo is not None
    assert not failure.message.startswith("unclassifiable"), failure  # the safety net stays idle
