"""The log line for each failure kind (SPEC.md fixes the concurrency line's shape)."""

from __future__ import annotations

import logging

from channel_parser.domain.failures import FailureKind, LLMFailure


def log_failure(
    logger: logging.Logger, failure: LLMFailure, message_ref: str, provider: str, error_text: str
) -> None:
    """Log *failure*; *error_text* is the SDK's error text (already free of secrets)."""
    where = f"while parsing message {message_ref or '-'} (provider: {provider})"
    kind = failure.kind
    if kind is FailureKind.CONCURRENCY_LIMITED:
        logger.warning(
            "LLM concurrency limit exceeded %s: %s. Will retry with backoff.", where, error_text
        )
    elif kind is FailureKind.RATE_LIMITED:
        logger.warning(
            "LLM rate limit exceeded %s: %s. Will retry with backoff.", where, error_text
        )
    elif kind is FailureKind.QUOTA_EXHAUSTED:
        logger.error(
            "LLM quota exhausted (insufficient_quota, code %s) %s: %s. "
            "New messages are not parsed until the balance is topped up.",
            failure.code,
            where,
            error_text,
        )
    elif kind is FailureKind.TRANSIENT:
        logger.warning(
            "LLM call failed transiently (code %s) %s: %s. Will retry with backoff.",
            failure.code,
            where,
            error_text,
        )
    elif kind is FailureKind.REJECTED:
        logger.warning("LLM rejected the message (code %s) %s: %s", failure.code, where, error_text)
    else:
        logger.error(
            "LLM provider misconfigured (code %s) %s: %s. A person must fix the settings.",
            failure.code,
            where,
            error_text,
        )
