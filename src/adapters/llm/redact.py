"""Keep secrets out of every text that leaves the adapter (logs, failure messages)."""

from __future__ import annotations

REDACTED = "***"


def redact(text: str, *secrets: str | None) -> str:
    """*text* with each secret (and the visible head and tail a provider may echo) masked."""
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        text = text.replace(secret, REDACTED)
        if len(secret) >= 16:  # "Incorrect API key provided: sk-abc***wxyz" style echoes
            text = text.replace(secret[:8], REDACTED).replace(secret[-8:], REDACTED)
    return text
